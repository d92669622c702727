{#-
    Parameters of the market-structure models (int_order_book_snapshots, int_market_structure_1h).
    Column names carry the bands (bid_depth_quote_10bps, ...): changing them changes the models'
    columns, so rebuild both with --full-refresh and rename their YAML columns.
-#}

{% macro market_structure_parameters() %}
    {{ return({
        "depth_bands_bps": [10, 50, 100],
        "kyle_lambda_min_pairs": 20,
    }) }}
{% endmacro %}

{% macro book_sides() %}
    {{ return(["bid", "ask"]) }}
{% endmacro %}
