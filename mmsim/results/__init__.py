"""What a run produced: the Result frames, metrics, PnL attribution, charts and the HTML report."""
