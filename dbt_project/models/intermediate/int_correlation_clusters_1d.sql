{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["as_of", "symbol"],
        incremental_predicates=[bucket_delete_predicate("as_of", 86400, shift="1 day")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["as_of", "symbol"], "unique": true},
            {"columns": ["symbol", "as_of"]},
        ],
    )
}}
{%- set p = symbol_master_parameters() -%}
{%- set min_correlation, min_observations = p["cluster_min_correlation"], p["cluster_min_observations"] -%}
-- Correlation clusters of the contracts per as_of of int_return_correlations_30d (the end of a UTC
-- day): the connected components of the graph whose nodes are the contracts with a pair row at
-- that as_of and whose edges are the pairs with correlation >= {{ min_correlation }} (var
-- symbol_master.cluster_min_correlation) over n_observations >= {{ min_observations }} common 1h returns
-- (symbol_master.cluster_min_observations); a pair with a null correlation is no edge. One row per
-- contract and as_of: cluster_id = the smallest symbol of its component (bytewise, collate "C"),
-- cluster_size = the component's contracts; a contract without an edge is its own cluster of 1.
--
-- Components by label propagation with pointer jumping, in a recursive CTE over one array of
-- labels per as_of (nodes numbered 1..n in symbol order, label = a node number): starting from
-- label(i) = i, each round sets
--   label(i) = least(label(i), label(label(i)), min over the neighbours j of label(j))
-- until no label changes. Labels only decrease and stay within the component; at the fixed point
-- they are constant on each component, so equal to its smallest node (whose label cannot be
-- lower than itself). A round costs O(nodes + edges) per as_of; the rounds are at most the
-- component's diameter (pointer jumping shortens chains) and capped at n. At 500 contracts that is
-- at most 124,750 edges, read once, and a few rounds over arrays of 500.
--
-- Windowed like int_return_correlations_30d: a run rebuilds the as_of days its window falls in,
-- reading only their correlation rows (the index on as_of).

with recursive rebuilt_pairs as (
    select as_of, symbol_a, symbol_b, n_observations, correlation, is_complete
    from {{ ref("int_return_correlations_30d") }}
    where as_of >= {{ bucket_window_start(86400) }} + interval '1 day'
      and as_of < {{ bucket_window_end(86400) }} + interval '1 day'
),

nodes as (
    -- the contracts of each as_of, numbered in symbol order
    select as_of, symbol, (row_number() over (partition by as_of order by symbol collate "C"))::integer as node
    from (
        select as_of, symbol_a as symbol from rebuilt_pairs
        union
        select as_of, symbol_b from rebuilt_pairs
    ) as symbols
),

edges as (
    select rebuilt_pairs.as_of, node_a.node as node_a, node_b.node as node_b
    from rebuilt_pairs
    inner join nodes as node_a on node_a.as_of = rebuilt_pairs.as_of and node_a.symbol = rebuilt_pairs.symbol_a
    inner join nodes as node_b on node_b.as_of = rebuilt_pairs.as_of and node_b.symbol = rebuilt_pairs.symbol_b
    where rebuilt_pairs.correlation >= {{ min_correlation }}
      and rebuilt_pairs.n_observations >= {{ min_observations }}
),

graphs as (
    -- per as_of: the node count and the edges in both directions, as two parallel arrays
    -- (one aggregation: the arrays list the edges in the same order)
    select
        node_counts.as_of,
        node_counts.node_count,
        coalesce(directed.sources, '{}') as sources,
        coalesce(directed.targets, '{}') as targets
    from (select as_of, count(*)::integer as node_count from nodes group by as_of) as node_counts
    left join (
        select as_of, array_agg(node_a) || array_agg(node_b) as sources, array_agg(node_b) || array_agg(node_a) as targets
        from edges
        group by as_of
    ) as directed on directed.as_of = node_counts.as_of
),

propagation (as_of, round, labels, is_changed) as (
    select as_of, 0, array(select generate_series(1, node_count)), true
    from graphs
    union all
    select previous.as_of, previous.round + 1, step.labels, step.labels <> previous.labels
    from propagation as previous
    inner join graphs on graphs.as_of = previous.as_of
    cross join lateral (
        select array_agg(
            least(previous.labels[nodes.node], previous.labels[previous.labels[nodes.node]], neighbours.label)
            order by nodes.node
        ) as labels
        from generate_series(1, graphs.node_count) as nodes (node)
        left join (
            select pairs.source, min(previous.labels[pairs.target]) as label
            from unnest(graphs.sources, graphs.targets) as pairs (source, target)
            group by pairs.source
        ) as neighbours on neighbours.source = nodes.node
    ) as step
    where previous.is_changed and previous.round < graphs.node_count
),

final_labels as (
    select distinct on (as_of) as_of, labels
    from propagation
    order by as_of, round desc
),

degrees as (
    select as_of, node, count(*)::integer as linked_symbol_count
    from (select as_of, node_a as node from edges union all select as_of, node_b from edges) as ends
    group by as_of, node
),

labelled as (
    select nodes.as_of, nodes.symbol, nodes.node, final_labels.labels[nodes.node] as label
    from nodes
    inner join final_labels on final_labels.as_of = nodes.as_of
)

select
    labelled.as_of,
    labelled.symbol,
    roots.symbol as cluster_id,
    (count(*) over (partition by labelled.as_of, labelled.label))::integer as cluster_size,
    coalesce(degrees.linked_symbol_count, 0) as linked_symbol_count,
    completeness.is_complete
from labelled
inner join nodes as roots on roots.as_of = labelled.as_of and roots.node = labelled.label
left join degrees on degrees.as_of = labelled.as_of and degrees.node = labelled.node
inner join (
    select as_of, bool_and(is_complete) as is_complete from rebuilt_pairs group by as_of
) as completeness on completeness.as_of = labelled.as_of
