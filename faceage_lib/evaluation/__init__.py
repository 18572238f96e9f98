"""How good the model is: ``metrics`` (the figures), ``evaluate`` (the shipped model on the test
split), ``plots`` (the charts people expect) and ``report`` (all of it as Markdown)."""
