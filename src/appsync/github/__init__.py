"""Review stage, for GitHub: the pull request comment that always shows a target's latest
plan (``appsync github comment``). ``body`` renders it (pure), ``api`` is the only HTTP user,
``comment`` finds our comment and updates it in place or creates it.
"""
