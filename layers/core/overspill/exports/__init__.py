"""Finance exports: usage per day and per month as CSV files (with a JSON manifest each) in the exports bucket.

Reading order of the package: ``periods`` (which files a date range asks for, and which ranges are refused),
``source`` (the raw usage events of a day, streamed from the ``by_day`` index), ``rows`` (events summed per
user, team, model and route), ``files`` (the CSV and manifest bytes, and where they go), ``destinations``
(the bucket, a local directory), ``service`` (the export run), and the two doorways: ``invocation`` (the
Lambda event) and ``command`` (``overspill export``).
"""
