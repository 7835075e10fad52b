import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTarget, findModels, layerMatchesAttribute } from '../../src/codelens/pythonModels';
import { mapToModel } from '../../src/codelens/modelMap';
import { readAdvvisJson, readAdvvisJsonFile } from '../../src/codelens/advvisJson';

const torchSource = `import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """The PyTorch MNIST example."""

    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        return F.log_softmax(self.fc2(x), dim=1)


def helper():
    self_like = 3


model = Net()
torch.onnx.export(model, torch.randn(1, 1, 28, 28),
                  "models/mnist_cnn.onnx", input_names=["input"], output_names=["output"], opset_version=11)
`;

const kerasSource = `from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
    layers.Dense(10, activation="softmax"),
])

class ResidualNet(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv_a = layers.Conv2D(16, 3)
        self.head = layers.Dense(10)
`;

describe('findModels', () => {
    it('finds the nn.Module, its layer attributes and the export call with its path', () => {
        const models = findModels(torchSource);
        expect(models.map(m => [m.kind, m.name, m.line])).toEqual([['torchModule', 'Net', 5], ['onnxExport', 'torch.onnx.export', 26]]);
        expect(models[0].layers.map(l => [l.name, l.type, l.line])).toEqual([['conv1', 'Conv2d', 10], ['conv2', 'Conv2d', 11], ['dropout1', 'Dropout', 12], ['fc1', 'Linear', 13], ['fc2', 'Linear', 14]]);
        expect(models[1].exportPath).toBe('models/mnist_cnn.onnx');
    });
    it('finds Keras Sequential models and Model subclasses', () => {
        const models = findModels(kerasSource);
        expect(models.map(m => [m.kind, m.name, m.line])).toEqual([['kerasSequential', 'model', 3], ['kerasModel', 'ResidualNet', 9]]);
        expect(models[1].layers.map(l => l.name)).toEqual(['conv_a', 'head']);
    });
    it('ignores classes that are not models', () => {
        expect(findModels('class Config(object):\n    x = 1\n')).toEqual([]);
    });
    it('reads the export target as keyword or third argument', () => {
        expect(exportTarget('torch.onnx.export(net, (x,), f="a.onnx")')).toBe('a.onnx');
        expect(exportTarget("torch.onnx.export(net, torch.zeros(1, 3, 8, 8), 'b.onnx', opset_version=13)")).toBe('b.onnx');
        expect(exportTarget('torch.onnx.export(net, x, path)')).toBeUndefined();
    });
    it('matches ONNX names from PyTorch exports to attributes', () => {
        expect(layerMatchesAttribute('/conv2/Conv_output_0', 'conv2')).toBe(true);
        expect(layerMatchesAttribute('conv2.weight', 'conv2')).toBe(true);
        expect(layerMatchesAttribute('/conv21/Conv_output_0', 'conv2')).toBe(false);
    });
});

describe('mapToModel', () => {
    const models = findModels(torchSource);
    const net = models[0];
    it('uses advvis.json first', () => {
        const json = readAdvvisJson('{\n "models": [\n  { "name": "mnist",\n    "path": "m/net.onnx", "source": "train.py", "class": "Net" }\n ]\n}', '/ws');
        expect(json.models[0]).toMatchObject({ path: '/ws/m/net.onnx', source: '/ws/train.py', line: 3 });
        expect(mapToModel('/ws/train.py', net, models, json.models, [], '/ws', () => false)).toEqual({ modelPath: '/ws/m/net.onnx', how: 'advvis.json' });
    });
    it('then the export call path, relative to the file or the workspace', () => {
        expect(mapToModel('/ws/src/train.py', net, models, [], [], '/ws', p => p === '/ws/models/mnist_cnn.onnx')).toEqual({ modelPath: '/ws/models/mnist_cnn.onnx', how: 'torch.onnx.export' });
    });
    it('then a matching file name, else nothing', () => {
        expect(mapToModel('/ws/train.py', net, models, [], ['/ws/zoo/net.onnx'], '/ws', () => false)).toEqual({ modelPath: '/ws/zoo/net.onnx', how: 'file name' });
        expect(mapToModel('/ws/train.py', net, models, [], ['/ws/zoo/other.onnx'], '/ws', () => false)).toBeUndefined();
    });
    it('reports bad advvis.json', () => {
        expect(readAdvvisJson('{', '/ws').error).toContain('not valid JSON');
    });
    it.skipIf(process.platform === 'win32')('reads an advvis.json file, and ignores one that links to a device instead of reading it', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'advvis-json-'));
        try {
            writeFileSync(join(dir, 'advvis.json'), '{ "models": [ { "path": "net.onnx" } ] }');
            expect((await readAdvvisJsonFile(join(dir, 'advvis.json'))).models.map(m => m.path)).toEqual([join(dir, 'net.onnx')]);
            mkdirSync(join(dir, 'cloned'));
            symlinkSync('/dev/zero', join(dir, 'cloned', 'advvis.json'));
            expect(await readAdvvisJsonFile(join(dir, 'cloned', 'advvis.json'))).toEqual({ models: [], error: expect.stringContaining('not a regular file of at most 1 MiB') });
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
