"""The browser UI the API process serves: the operator dashboard, the ``/talk`` voice client and
sign-in.

``routes`` (the pages, their assets under ``static/`` and the JSON they read), ``live`` (live calls
as server-sent events, a fold of call facts), ``signin`` (a token in, a session cookie out).
"""
