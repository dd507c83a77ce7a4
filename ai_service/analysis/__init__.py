"""Root-cause analyses: detection of new/spiking error templates, reusable analyses, trace views."""
