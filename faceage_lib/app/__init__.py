"""The Gradio app: ``page`` (the page and its events), ``drawing`` (boxes and labels on the photo),
``faces`` (reading order, labels, table cells), ``live`` and ``tracking`` (the live webcam view),
``crowd`` (many photos or a .zip at once) and ``feedback`` (the consented feedback store)."""
