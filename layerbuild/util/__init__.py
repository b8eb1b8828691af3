"""Neutral modules the engine and the artifact side both use: errors, files, processes, hashing,
versions, archives, the file-system tree model, roots resolved as a chroot resolves them, and the
table of variables with its types and typed reads."""
