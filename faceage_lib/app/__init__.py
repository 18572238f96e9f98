"""The Gradio app, on top of the inference half and the feedback store:

* ``page`` builds and serves the page (queue, launch); ``tabs`` wires each tab's components and events;
* ``analysis`` is what the Photo tab does, as plain functions; ``uploads`` reads what users send;
* ``texts`` (the words), ``style`` (CSS, theme) and ``components`` (faceage's own Gradio components);
* ``faces`` (table cells), ``live`` (the live webcam view), ``crowd`` (many photos or a .zip at once);
  boxes and labels are drawn and faces followed by :mod:`faceage_lib.render`, video files analysed
  by :mod:`faceage_lib.video`.
"""
