"""Provenance of generated content: a statistical watermark in generated text and its detector, signed
manifests for every output, and a (weaker, model-based) AI-text score.

watermark.py   the green-list scheme (KGW), engine-independent: green lists, scoring
keys.py        the watermark key and the Ed25519 signing key in the home folder (0600), their key ids
detect.py      watermark detection from the model's tokenizer alone: z-score, p-value, verdict
manifest.py    signed provenance manifests (output hash, model + file hash, sources, params, key ids, time)
logprob.py     the log-probability detector (perplexity / Binoculars-style ratio), a weaker signal
The watermark hook itself lives with the token loop: genloom.backends.llm.llamacpp.watermark_hook.
"""
