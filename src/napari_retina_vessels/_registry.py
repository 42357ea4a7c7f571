"""The weights registry: data only.

Every weight file this package can use, shipped inside the package
(``_weights/``) or downloaded by pooch from ``BASE_URL``, is listed here
with its sha256. How each file was trained is recorded in
``docs/weights.md``.
"""

from __future__ import annotations

#: Where downloadable weight files live (override with the environment
#: variable RETINA_VESSELS_BASE_URL, e.g. a mirror or a local folder
#: served over HTTP). The project keeps them in its repository's
#: ``weights/`` folder.
BASE_URL = (
    'https://raw.githubusercontent.com/napari-retina-vessels/'
    'napari-retina-vessels/main/weights/'
)

#: Model name used when none is given, per task.
DEFAULTS = {'vessels': 'wnet-universal-local', 'av': 'seqnet-av-universal-v3'}

#: name -> description of one weight file.
#: ``shipped`` files are inside the installed package; others download.
#: ``threshold`` is the vessel probability cut-off used by default.
REGISTRY: dict[str, dict] = {
    'wnet-universal-local': {
        'file': 'wnet-universal-local.pt',
        'sha256': (
            'd1abf147465ec71bae3b808005d84a862de942394e47d969eb4dab68476c482b'
        ),
        'arch': 'wnet',
        'task': 'vessels',
        'shipped': True,
        'threshold': 0.5,
        'description': 'tiny W-Net, local contrast input, DRIVE + '
        'CHASE_DB1 + STARE training splits (default)',
    },
    'quality-gate': {
        'file': 'quality-gate-v1.npz',
        'sha256': (
            '97356e8f7674466a11857253ae7d095abe77e11ecd1d59d837ccf8bb6587903c'
        ),
        'arch': 'mlp',
        'task': 'quality',
        'shipped': True,
        'description': 'quality gate: gradability classifier (one hidden '
        'layer of 16) over cheap image features, evaluated with NumPy; '
        'scripts/quality_model.py train',
    },
    'wnet-universal': {
        'file': 'wnet-universal.pt',
        'sha256': (
            '2ff1fa677adac954507d50a1cb0d8ca64166b9864528e8a29a88b1608ab910d1'
        ),
        'arch': 'wnet',
        'task': 'vessels',
        'shipped': False,
        'threshold': 0.5,
        'description': 'tiny W-Net, global standardisation, same data: '
        'the previous default, start of the current one',
    },
    'seqnet-av-universal-v3': {
        'file': 'seqnet-av-universal-v3.pt',
        'sha256': (
            '8589e6fd794d601db29e02878e2e9c69037ca53aeda57a5873408ed05a961235'
        ),
        'arch': 'seqnet-av',
        'task': 'av',
        'shipped': True,
        'description': 'SeqNet-style A/V stage, local contrast input, RITE '
        '+ HRF-AV training labels, camera augmentation, fine-tuned further '
        'on 384 px crops (default)',
    },
    'seqnet-av-universal-v4': {
        'file': 'seqnet-av-universal-v4.pt',
        'sha256': (
            '783ec073f3473f8b512ca2c0dcc86409dc9b4033c2932976a5406dc1ee007be0'
        ),
        'arch': 'seqnet-av',
        'task': 'av',
        'shipped': False,
        'description': 'SeqNet-style A/V stage, local contrast input, RITE '
        '+ HRF-AV training labels: v3 fine-tuned on 512 px crops '
        '(validation +0.3 points, RITE test -0.1: not the default)',
    },
    'seqnet-av-colour': {
        'file': 'seqnet-av-colour.pt',
        'sha256': (
            'ca485e567ff4f744e2b8bdf5bb79832b374b3d19ad806269122cb14ba805e3ac'
        ),
        'arch': 'seqnet-av',
        'task': 'av',
        'shipped': False,
        'description': 'SeqNet-style A/V stage: v3 fine-tuned with the '
        'colour/illumination augmentation of other cameras (casts, haze, '
        'low contrast); best on the colour-cast stress photos, not the '
        'default (see docs/weights.md)',
    },
    'seqnet-av-universal-v2': {
        'file': 'seqnet-av-universal-v2.pt',
        'sha256': (
            'e29af0370caec3703630f5e6fd61e1fbe218fde4277879b48125dc4139753165'
        ),
        'arch': 'seqnet-av',
        'task': 'av',
        'shipped': False,
        'description': 'SeqNet-style A/V stage, local contrast input, RITE '
        '+ HRF-AV training labels, camera augmentation, trained 107 '
        'minutes longer: the previous default, start of the current one',
    },
    'seqnet-av-universal': {
        'file': 'seqnet-av-universal.pt',
        'sha256': (
            'c4f6b484d38a2d4730b36624b7b00ba217b1083ec96a37fe3916f7109f20e055'
        ),
        'arch': 'seqnet-av',
        'task': 'av',
        'shipped': False,
        'description': 'SeqNet-style A/V stage, local contrast input, RITE '
        '+ HRF-AV training labels, camera augmentation: the previous '
        'default, start of the current one',
    },
    'seqnet-av-rite': {
        'file': 'seqnet-av-rite.pt',
        'sha256': (
            'de663bec664fb61f8bb218563700d2c36628ebc13e9f2e702d3b5681a52e632b'
        ),
        'arch': 'seqnet-av',
        'task': 'av',
        'shipped': False,
        'description': 'SeqNet-style A/V stage on image + vessel map, '
        'RITE training labels, global input: the previous default',
    },
    'seqnet-av-hrf': {
        'file': 'seqnet-av-hrf.pt',
        'sha256': (
            '8d185b801da737fbab618a0831a66e186704562fe3f94779f392c1a943e8a2e7'
        ),
        'arch': 'seqnet-av',
        'task': 'av',
        'shipped': False,
        'description': 'A/V stage trained on HRF-AV only (local input): '
        'the leave-one-camera-out model scored on RITE',
    },
    'wnet-universal-step750': {
        'file': 'wnet-universal-step750.pt',
        'sha256': (
            '1ea8bfa0e9464ef124a235e72b00acbc819ebfea22dc511085bc8973a7663e9d'
        ),
        'arch': 'wnet',
        'task': 'vessels',
        'shipped': False,
        'threshold': 0.5,
        'description': 'early (step 750) W-Net checkpoint: the vessel '
        'input on which seqnet-av-rite was trained',
    },
    'unet-drive': {
        'file': 'unet-drive.pt',
        'sha256': (
            'fc22478581f45314a8278adb3a5e1f3de4b01766a7374aa27c7af31d3d5f431a'
        ),
        'arch': 'unet',
        'task': 'vessels',
        'shipped': False,
        'threshold': 0.5,
        'description': 'U-Net, DRIVE training split, reduced budget',
    },
    'iternet-drive': {
        'file': 'iternet-drive.pt',
        'sha256': (
            '53bc48ec5c34dd2f92cb04f1b5b342db62bff4edcdf6bf2e7c6d6b666c003eda'
        ),
        'arch': 'iternet',
        'task': 'vessels',
        'shipped': False,
        'threshold': 0.5,
        'description': 'IterNet, DRIVE training split, reduced budget',
    },
    'serr-unet-drive': {
        'file': 'serr-unet-drive.pt',
        'sha256': (
            '82e00724fb8dcb462132bb98e572d3430244aff521a1ec8cc7067eed03e50a7b'
        ),
        'arch': 'serr-unet',
        'task': 'vessels',
        'shipped': False,
        'threshold': 0.5,
        'description': 'SERR-U-Net, DRIVE training split, reduced budget',
    },
}

#: Registry model name -> its OpenVINO conversions by kind (``fp32``,
#: ``int8``), each a packed IR file (``.npz`` of the XML and the weights,
#: no pickles) made by ``scripts/convert_openvino.py``; used by the
#: ``openvino`` engine (``engines.py``). Accuracy: ``docs/weights.md``.
OPENVINO: dict[str, dict[str, dict]] = {
    'wnet-universal-local': {
        'fp32': {
            'file': 'wnet-universal-local.fp32.ovz',
            'sha256': (
                'a4ba76e0308eac56783f42a813897ec51a6be1d65080c0c983737510019947fa'
            ),
            'shipped': True,
        },
        # Calibrated on the A/V cameras' training photos (RITE, HRF-AV),
        # chosen by how well its map keeps the int8 A/V network's
        # decisions (scripts/wnet_chain_int8.py); passed the vessel and
        # the A/V gates, so it feeds the A/V stage too (docs/weights.md).
        # The first file (DRIVE-calibrated) moved HRF-AV's A/V accuracy
        # by -0.00295 there and was vessel-only.
        'int8': {
            'file': 'wnet-universal-local-v2.int8.ovz',
            'sha256': (
                'f0b6b4354aaa51e7b8a83a7de77b4286e1203bceebf4069c9be39affd77484b7'
            ),
            'shipped': True,
        },
    },
    'seqnet-av-universal-v3': {
        'fp32': {
            'file': 'seqnet-av-universal-v3.fp32.ovz',
            'sha256': (
                'c4234a07dd22d05575d04931c61e1d9962d0b55ef4b903dc4f07778d51883da2'
            ),
            'shipped': True,
        },
        # Calibrated to keep the fp32 network's artery/vein decisions
        # (RITE + HRF-AV training photos, fed by the int8 W-Net's map),
        # the first U-Net's encoder kept in fp32 and its full-resolution
        # decoder in int8; passed the gate on the held-out photos
        # (docs/weights.md). The first file (decoder in fp32) was slower.
        'int8': {
            'file': 'seqnet-av-universal-v3-v2.int8.ovz',
            'sha256': (
                '092023f6ec2c060d592af0ccd4001ae15150406cf32b27014738bdb503ae3949'
            ),
            'shipped': True,
        },
    },
}
