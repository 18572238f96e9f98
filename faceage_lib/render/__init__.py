"""What a photo or a video frame shows of its results, below everything that shows them (the app,
the live view, video files, the notebooks):

* ``drawing``: a box and a label per face, placed apart on the photo (plain Pillow, no Gradio);
* ``tracking``: the faces of a stream followed from frame to frame, their estimates smoothed.
"""
