"""SMTP edges: the relay that delivers accepted mail out."""
