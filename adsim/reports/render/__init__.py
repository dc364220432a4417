"""How reports are drawn: Markdown tables, the self-contained HTML page, and the plots."""
