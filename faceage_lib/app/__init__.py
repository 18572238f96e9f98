"""The Gradio app: ``page`` (the page and its events), ``drawing`` (boxes and labels on the photo)
and ``feedback`` (the consented feedback store)."""
