"""Chapter 4: the VAE and the debiasing VAE (DB-VAE) for fair face detection."""
