"""Fine-tuning the security model on replayed decisions and feedback (a later milestone)."""
