"""Choosing the model per request (issue 21).

confidence.py   the confidence signal of a reply (mean token log-prob), one function to switch later
cascade.py      the ``cascade:SMALL|BIG`` backend: the small model first, kept when genloom's check passes
rag_cascade.py  the same for grounded answers, where the check is claim support
router.py       rules (template, kb, key, tenant, prompt length) that pick a served model
"""
