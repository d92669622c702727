{#-
    Range checks of the numeric vars the parameter macros validate (agents, signals,
    market_regime, indicators ...): each returns the value, or fails the invocation with a message
    naming the var, its value and the rule it broke, e.g.
      var agents.outcome_horizon_hours=0 is malformed: expected an integer between 1 and 720
      var signals.text_similarity=1.5 is malformed: expected a number in (0, 1]
      var symbol_master.min_history_bars=-1 is malformed: expected an integer >= 0
    high=none leaves the range open above. A boolean is refused although Jinja counts it as a
    number (true == 1).
-#}

{% macro integer_var(name, value, low, high=none, reason=none) %}
    {#- `value` is an integer in [low, high]; `reason`, when given, says why in the message. -#}
    {%- if value is boolean or value is not integer or value < low or (high is not none and value > high) -%}
        {%- set rule = ">= " ~ low if high is none else "between " ~ low ~ " and " ~ high -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ "=" ~ value ~ " is malformed: expected an integer " ~ rule ~ (" (" ~ reason ~ ")" if reason else "")) }}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}

{% macro number_var(name, value, low, high=none, bounds="()", what="a number") %}
    {#- `value` is a number (integer or float) in the interval low..high, each end open or closed
        as `bounds` says ("()", "(]", "[)" or "[]"; with high=none only its first character
        counts); `what` names the quantity in the message. -#}
    {%- if bounds not in ["()", "(]", "[)", "[]"] -%}
        {{ exceptions.raise_compiler_error("number_var(" ~ name ~ "): bounds=" ~ bounds ~ " is not one of (), (], [), []") }}
    {%- endif -%}
    {%- if value is boolean or value is not number
           or (value <= low if bounds[0] == "(" else value < low)
           or (high is not none and (value >= high if bounds[1] == ")" else value > high)) -%}
        {%- if high is none -%}
            {%- set rule = (">" if bounds[0] == "(" else ">=") ~ " " ~ low -%}
        {%- else -%}
            {%- set rule = "in " ~ bounds[0] ~ low ~ ", " ~ high ~ bounds[1] -%}
        {%- endif -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ "=" ~ value ~ " is malformed: expected " ~ what ~ " " ~ rule) }}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}
