"""What people look at: charts (PNG data URIs), Markdown previews for Dagster metadata, the HTML portfolio report."""
