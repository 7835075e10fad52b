#!/usr/bin/python3
"""PyTorch's peak RSS for ViT-B/16 forward + input gradient at batch 8 (torchvision module, random weights, 2 threads),
the reference for docs/benchmarks.md's memory row. Needs Debian's python3-torch; run with /usr/bin/python3."""
import os, sys, resource, time
os.environ.setdefault("OMP_NUM_THREADS", "2")
import torch, torchvision
torch.set_num_threads(2)
torch.manual_seed(0)
m = torchvision.models.vit_b_16(weights=None).eval()
for p in m.parameters(): p.requires_grad_(False)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
x = torch.rand(8, 3, 224, 224, requires_grad=True)
for _ in range(2):
    x.grad = None
    y = m(x); (y * torch.randn_like(y)).sum().backward()
print(f"torch vit_b_16 batch 8 fwd+input-grad: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB (after model build {base/1024:.0f} MiB)")
