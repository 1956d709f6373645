"""`ecom-etl report`: the dashboard's numbers collected from the lake, its charts and its page.

May import: core, lake and the shared modules.
"""
