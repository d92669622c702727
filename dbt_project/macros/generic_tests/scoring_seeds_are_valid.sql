{#- The scoring seeds (scoring_algorithms, scoring_algorithm_weights, scoring_algorithm_parameters)
    obey every rule of scoring_seed_violations() (macros/scoring.sql) that concerns `model`'s seed;
    otherwise the test errors with a message naming seed, version and rule of each violation
    (a failing row count alone would not say which version broke which rule), which stops a
    `dbt build` before fct_symbol_scores. -#}
{% test scoring_seeds_are_valid(model) %}
    select 1 where not {{ assert_scoring_seeds_are_valid(model.identifier) }}
{% endtest %}
