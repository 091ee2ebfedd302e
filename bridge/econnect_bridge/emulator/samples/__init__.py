"""The sample gallery (``gallery.yaml``) and its images, made by ``make_images.py``."""
