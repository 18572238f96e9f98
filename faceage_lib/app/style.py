"""How the page looks: its CSS, the <head> additions, the theme (system fonts only), the colours."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr  # noqa: E402

CSS = """
.gradio-container {max-width: 1180px !important; margin: 0 auto !important;}
#faceage-message p {margin: 0.2em 0;}
#faceage-intro p:last-child {font-size: 0.9em; opacity: 0.85;}
#faceage-table, #faceage-crowd-table {min-width: 0; overflow-x: auto;}
#faceage-crowd-table table {table-layout: fixed; width: 100% !important;}
#faceage-crowd-table td, #faceage-crowd-table th {white-space: normal !important; overflow-wrap: anywhere;
  word-break: normal;}
#faceage-crowd-files table {table-layout: fixed; width: 100%;}
#faceage-crowd-files td {overflow: hidden; text-overflow: ellipsis;}
#faceage-crowd-files td.filename {max-width: 0; width: 100%;}  /* long names shortened, not widening the page */
#faceage-table span, #faceage-table td, #faceage-table th, #faceage-crowd-table span, #faceage-crowd-table td,
#faceage-crowd-table th {font-family: var(--font) !important;}
#faceage-photo .source-selection {height: auto !important; gap: 6px; flex-wrap: wrap; padding: 4px 0;}
#faceage-photo .source-selection button {display: inline-flex !important; align-items: center; gap: 4px;
  width: auto !important; height: auto !important; padding: 2px 6px !important;}
#faceage-photo .source-selection button svg {width: 18px; height: 18px; flex: none;}
#faceage-photo .source-selection button::after {font-size: 0.85em; white-space: nowrap;}
#faceage-photo .source-selection button[aria-label="Upload file"]::after {content: "Upload";}
#faceage-photo .source-selection button[aria-label="Capture from camera"]::after {content: "Webcam";}
#faceage-photo .source-selection button[aria-label="Paste from clipboard"]::after {content: "Paste";}
"""
#: Raw <head> additions: Gradio rewrites the selectors in ``css`` to sit inside the app's
#: content, which the page margins are not.
HEAD = """<style>
@media (max-width: 640px) {  /* phones: narrow page margins; the live view above the camera */
  .gradio-container > .main {padding-left: 8px !important; padding-right: 8px !important;}
  #faceage-live-row {flex-direction: column-reverse !important;}
  #faceage-crowd-row {flex-direction: column !important;}
  #faceage-crowd-row > * {min-width: 0 !important; width: 100% !important;}
  /* no block is wider than the screen: a chart or gallery first laid out wider must not hold the page wide */
  .gradio-container .block {max-width: calc(100vw - 16px) !important; overflow-x: hidden;}
  #faceage-crowd-gallery .grid-container {grid-template-columns: repeat(3, minmax(0, 1fr)) !important;}
}
</style>
<script>
/* Record pressed on the live tab: bring the annotated view into sight (on a phone it is off-screen). */
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("#faceage-camera button");
  const live = document.querySelector("#faceage-live");
  if (button && live && /record/i.test(button.textContent)) {
    setTimeout(() => live.getBoundingClientRect().bottom > window.innerHeight
      && live.scrollIntoView({block: "start", behavior: "instant"}), 300);
  }
}, true);
</script>"""
#: System fonts only: nothing is fetched, and the text is set in one font that has every glyph
#: (Gradio's default theme font covers only a few of the title's letters, the rest fall back).
SYSTEM_FONTS = ("Segoe UI", "Roboto", "Helvetica Neue", "Arial", "Liberation Sans", "DejaVu Sans", "sans-serif")
MONO_FONTS = ("Consolas", "Menlo", "Liberation Mono", "DejaVu Sans Mono", "monospace")
THEME = gr.themes.Default(
    font=[gr.themes.Font(name) for name in SYSTEM_FONTS], font_mono=[gr.themes.Font(name) for name in MONO_FONTS]
)
GENDER_COLOURS = {"female": "#e8590c", "male": "#1c7ed6", "uncertain": "#868e96"}
#: Runs in the browser when the photo changes: where the columns are stacked (a phone), scroll
#: the answer (message, boxed photo, table) to the top of the screen. Returns the photo unchanged.
SHOW_ANSWER_JS = """(photo) => {
  const answer = document.querySelector('#faceage-answer');
  const input = document.querySelector('#faceage-photo');
  if (photo && answer && input && answer.getBoundingClientRect().top >= input.getBoundingClientRect().bottom - 1) {
    answer.scrollIntoView({block: 'start'});
  }
  return photo;
}"""
#: Runs in the browser once feedback was sent: the "Thank you" (or why not) line is brought into view.
SHOW_FEEDBACK_MESSAGE_JS = """() => {
  document.querySelector('#faceage-feedback-message')?.scrollIntoView({block: 'center'});
}"""
#: Runs in the browser once the Many photos tab has answered: its answer (the message, then the
#: table) is brought to the top of the screen (before the answer, the page still changes under it).
SHOW_CROWD_ANSWER_JS = """() => {
  document.querySelector('#faceage-crowd-message')?.scrollIntoView({block: 'start'});
}"""
