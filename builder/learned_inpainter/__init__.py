"""A small learned inpainting network, trained here on CPU, shipped inside the package (docs/learned_inpainter.md).

Modules: ``model`` (the generator, discriminator and perceptual features), ``masks`` (seeded free-form training
masks), ``photos`` (the training and held-out photos and the check that keeps benchmark photos out), ``train``
(the training loop behind ``inpaintbench train-inpainter``), ``weights`` (saving and loading the shipped file with
its sidecar) and ``infer`` (one image and mask in, the filled image out).
"""
