"""The dialogue manager: one InboundMessage in, a list of OutboundMessage out."""
