"""VRGNet's deraining network (Wang et al., CVPR 2021, "From Rain Generation to Rain Removal").

VRGNet trains a generator of rain and a deraining network together; at test time only the
deraining network runs (the authors' ``for_syn/test_syn_joint.py``, hongwang01/VRGNet @ 036d7a9).
It is PReNet (6 stages, plain residual blocks, ConvLSTM) whose sixth stage ends in its own
convolution ``convfinal`` (32 -> 6): channels 0-2 plus the input are the derained image (the
posterior mean), channels 3-5 its log-variance, used only by the training loss.

Checkpoint detection: the PReNet tensors plus ``convfinal.0.weight`` (6 x 32 x 3 x 3); the authors
save them under ``derainet.``, which loading strips. Any input size (stride-1 convolutions only).
"""

from __future__ import annotations

from derain_cli.models.recurrent import STAGES, RecurrentDerainNet
from derain_cli.models.registry import register_model


@register_model("vrgnet-prenet", ranges={"stages": STAGES})
def vrgnet_prenet(stages: int = 6) -> RecurrentDerainNet:
    """VRGNet's PReNet deraining network: the last stage's output is ``convfinal``'s mean channels."""
    return RecurrentDerainNet(stages=stages, dilation=False, attention=False, final_conv=True)
