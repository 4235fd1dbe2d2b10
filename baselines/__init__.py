"""RiVEG reference baselines and adapters (stage 1 and stage 2). Not implemented yet: see issues 4 and 5."""
