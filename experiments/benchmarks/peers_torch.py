"""The PyTorch peer of peers.py: gan_tf's DCGAN networks in PyTorch, trained by the loop of the
official PyTorch DCGAN example (github:pytorch/examples, dcgan/main.py).

Run by peers.py as its own process; it imports neither TensorFlow nor gan_tf (both would change
this process's threads and memory). The networks have the shapes of
`gan_tf.networks.dcgan_generator` / `dcgan_discriminator` (Radford et al. 2016, as TensorFlow's
DCGAN tutorial shapes them): the same layers, channels, kernel sizes, strides and output sizes;
"same" padding becomes padding=2 (and output_padding=1 for strided transposed convolutions),
which gives the same output sizes and multiply-accumulates. Layout is PyTorch's default (NCHW),
as the example runs it. The discriminator ends in a logit (gan_tf's network), so the example's
`nn.Sigmoid` + `nn.BCELoss` becomes the equivalent `nn.BCEWithLogitsLoss`.

    python experiments/benchmarks/peers_torch.py --shape 28x28x1 --batch_size 256 --steps 3 \
        --threads 2 --result /tmp/torch.json
"""
import argparse
import json
import time


def num_stages(side):
    """(x2 stages, smallest side): as gan_tf.networks.dcgan._num_stages (halve while even and > 7)."""
    stages = 0
    while side % 2 == 0 and side > 7:
        side //= 2
        stages += 1
    return stages, side


def build_networks(image_shape, latent_dim, width):
    import torch
    from torch import nn

    height, _, channels = image_shape
    stages, start = num_stages(height)
    top = width * 2**stages

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.project = nn.Linear(latent_dim, start * start * top, bias=False)
            self.project_bn = nn.BatchNorm1d(start * start * top)  # Keras BN over the Dense features
            blocks = []
            c_in = top
            for i in range(stages):
                c_out, stride = width * 2 ** (stages - 1 - i), 1 if i == 0 else 2
                blocks += [nn.ConvTranspose2d(c_in, c_out, 5, stride, padding=2, output_padding=stride - 1,
                                              bias=False),
                           nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
                c_in = c_out
            blocks += [nn.ConvTranspose2d(c_in, channels, 5, 2, padding=2, output_padding=1, bias=False), nn.Tanh()]
            self.body = nn.Sequential(*blocks)

        def forward(self, noise):
            x = nn.functional.leaky_relu(self.project_bn(self.project(noise)), 0.2)
            return self.body(x.view(-1, top, start, start))

    layers, c_in, side = [], channels, height
    for i in range(stages):
        layers += [nn.Conv2d(c_in, width * 2**i, 5, 2, padding=2), nn.LeakyReLU(0.2), nn.Dropout(0.3)]
        c_in, side = width * 2**i, side // 2
    layers += [nn.Flatten(), nn.Linear(c_in * side * side, 1)]
    discriminator = nn.Sequential(*layers)
    torch.manual_seed(0)
    return Generator(), discriminator


def trainable_parameters(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class ExampleLoop:
    """pytorch/examples dcgan/main.py's loop body: D on real, then on the detached fake; G reusing the fake."""

    def __init__(self, image_shape, batch_size, latent_dim, width):
        import torch
        from torch import nn, optim

        self.torch = torch
        self.net_g, self.net_d = build_networks(image_shape, latent_dim, width)
        self.criterion = nn.BCEWithLogitsLoss()
        self.optimizer_d = optim.Adam(self.net_d.parameters(), lr=0.0002, betas=(0.5, 0.999))
        self.optimizer_g = optim.Adam(self.net_g.parameters(), lr=0.0002, betas=(0.5, 0.999))
        self.batch_size, self.latent_dim = batch_size, latent_dim

    def step(self, real):
        torch = self.torch
        # (1) Update D: train with real ...
        self.net_d.zero_grad()
        label = torch.full((self.batch_size, 1), 1.0)
        output = self.net_d(real)
        err_d_real = self.criterion(output, label)
        err_d_real.backward()
        d_x = output.mean().item()
        # ... and with fake
        noise = torch.randn(self.batch_size, self.latent_dim)
        fake = self.net_g(noise)
        label.fill_(0.0)
        output = self.net_d(fake.detach())
        err_d_fake = self.criterion(output, label)
        err_d_fake.backward()
        d_g_z1 = output.mean().item()
        err_d = err_d_real + err_d_fake
        self.optimizer_d.step()
        # (2) Update G, reusing the fake batch
        self.net_g.zero_grad()
        label.fill_(1.0)
        output = self.net_d(fake)
        err_g = self.criterion(output, label)
        err_g.backward()
        d_g_z2 = output.mean().item()
        self.optimizer_g.step()
        # The example prints these every step; reading them is part of its loop.
        return err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2


def count_flops(loop, real):
    """FLOPs of one step by torch.utils.flop_counter (2 per multiply-accumulate of convolutions and
    matrix products, forward and backward; the convention of throughput.count_flops)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loop.step(real)
    return counter.get_total_flops()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", required=True, help="HxWxC, e.g. 28x28x1")
    parser.add_argument("--batch_size", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, required=True, help="torch.set_num_threads")
    parser.add_argument("--latent_dim", type=int, default=100)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--count_flops", action="store_true")
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    image_shape = tuple(int(d) for d in args.shape.split("x"))
    loop = ExampleLoop(image_shape, args.batch_size, args.latent_dim, args.width)
    # The same prepared batches as the TensorFlow loops (peers.fixed_batches), in NCHW.
    rng = np.random.default_rng(0)
    batches = [torch.from_numpy(rng.uniform(-1, 1, (args.batch_size, *image_shape)).astype(np.float32))
               .permute(0, 3, 1, 2).contiguous() for _ in range(4)]
    result = {"threads": torch.get_num_threads(), "onednn": bool(torch.backends.mkldnn.is_available()),
              "versions": {"torch": torch.__version__},
              "trainable_parameters": {"generator": trainable_parameters(loop.net_g),
                                       "discriminator": trainable_parameters(loop.net_d)}}
    start = time.perf_counter()
    for i in range(args.warmup):
        loop.step(batches[i % 4])
    result["warmup_seconds"] = time.perf_counter() - start
    wall, cpu = [], []
    for i in range(args.steps):
        start = (time.perf_counter(), time.process_time())
        loop.step(batches[i % 4])  # for i, data in enumerate(dataloader): ...
        wall.append(time.perf_counter() - start[0])
        cpu.append(time.process_time() - start[1])
    result.update(step_seconds=wall, step_cpu_seconds=cpu)
    if args.count_flops:
        result["flops_per_step"] = count_flops(loop, batches[0])
    with open(args.result, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
