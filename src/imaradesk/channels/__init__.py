"""Channel adapters: provider requests in, channel-neutral messages out, and back."""
