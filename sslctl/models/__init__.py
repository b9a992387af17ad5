"""Networks: backbones (encoders) and MLP projectors."""
