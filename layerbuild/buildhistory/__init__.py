"""buildhistory: what each image build installed, kept in a git repository (buildhistory.bbclass)."""
