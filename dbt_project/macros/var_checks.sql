{#-
    Range checks of the numeric vars the parameter macros validate (agents, signals,
    market_regime, indicators ...): each returns the value, or fails the invocation with a message
    naming the var, its value and the rule it broke, e.g.
      var agents.outcome_horizon_hours=0 is malformed: expected an integer between 1 and 720
      var signals.text_similarity=1.5 is malformed: expected a number in (0, 1]
    A boolean is refused although Jinja counts it as a number (true == 1).
-#}

{% macro integer_var(name, value, low, high) %}
    {#- `value` is an integer in [low, high]. -#}
    {%- if value is boolean or value is not integer or value < low or value > high -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ "=" ~ value ~ " is malformed: expected an integer between " ~ low ~ " and " ~ high) }}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}

{% macro number_var(name, value, low, high, bounds="()", what="a number") %}
    {#- `value` is a number (integer or float) in the interval low..high, each end open or closed
        as `bounds` says ("()", "(]", "[)" or "[]"); `what` names the quantity in the message. -#}
    {%- if bounds not in ["()", "(]", "[)", "[]"] -%}
        {{ exceptions.raise_compiler_error("number_var(" ~ name ~ "): bounds=" ~ bounds ~ " is not one of (), (], [), []") }}
    {%- endif -%}
    {%- if value is boolean or value is not number
           or (value <= low if bounds[0] == "(" else value < low)
           or (value >= high if bounds[1] == ")" else value > high) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ "=" ~ value ~ " is malformed: expected " ~ what ~ " in " ~ bounds[0] ~ low ~ ", " ~ high ~ bounds[1]) }}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}
