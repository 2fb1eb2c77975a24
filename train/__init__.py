"""train: SFT, reward-model and DPO trainers that read curate's exports directly."""
