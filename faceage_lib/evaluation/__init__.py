"""How good the model is: ``metrics`` (the figures), ``evaluate`` (the shipped model on a test
split), ``robustness`` (the same on corrupted photos), ``plots`` (the charts people expect) and
``report`` (all of it as Markdown). Reads data from :mod:`faceage_lib.data`, never training code."""
