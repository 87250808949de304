"""Image generation, small enough to train on a CPU in minutes and the same code for bigger images on a GPU.

Kept apart as diffusers does: the *models* (``unet`` - diffusers' UNet2DModel, ``vae``, ``gan``), the *noise
schedulers* (``schedulers`` - DDPM / DDIM), the *pipeline* that samples (``pipeline``, with classifier-free
guidance), the *data* (``data``), *training* (``trainers`` one step per kind, ``train`` the loop), the saved
*artifact* (``artifact``), provenance (``png``) and *evaluation* (``features``, ``metrics``, ``evaluate``).

Trained models are versions of kind ``image`` in genloom's model registry (``genloom.registry``).
Needs the ``image`` extra (diffusers, scikit-learn, scipy, Pillow).
"""
