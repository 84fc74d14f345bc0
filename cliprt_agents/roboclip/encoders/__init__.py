"""Video-language encoders behind one interface (:class:`~.base.VideoLanguageEncoder`).

:func:`~.base.make_encoder` builds one by name.
"""
