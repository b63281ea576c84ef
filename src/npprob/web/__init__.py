"""``npprob serve``: a local web page for clinicians and a JSON API (needs the ``web`` extra).

:func:`~npprob.web.app.create_app` builds the ASGI app; the form is generated from the
network specification and the patient schema (:mod:`npprob.web.form`), the figures are
server-rendered SVG (:mod:`npprob.web.figures`).
"""
