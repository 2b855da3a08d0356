"""Prompt recommendation: write or enrich a prompt from the keyframes (Vidu ``is_rec``, Baicai
``need_expand_prompt``). ``base`` has the interface, ``motion`` the built-in expander, ``chat`` the one
that asks an OpenAI-compatible chat endpoint and falls back to the built-in one."""
