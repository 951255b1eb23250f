"""HTTP edge: the Flask app serving the AWS wire protocols and the /_sim control plane."""
