"""What the frozen build leaves out: imported by ``spade_studio.spec`` and by the tests.

Plain Python, no PyInstaller import, so ``tests/test_packaging.py`` can check the rules
without a build. Paths are the destination names inside the bundle's ``_internal`` folder,
with ``/`` separators (the spec normalises Windows separators before asking).
"""

from __future__ import annotations

import fnmatch

# Python modules never imported by SPADE Studio, but reachable from what is imported (torch's
# optional paths, qtpy's other bindings, test helpers). A naive build pulled scipy (78 MB) in
# through torch.testing._internal / torch._numpy; nothing on our code paths imports it.
EXCLUDED_MODULES = [
    # test frameworks and test packages
    "pytest", "_pytest", "pytestqt", "hypothesis", "py", "pluggy", "iniconfig",
    "numpy.tests", "numpy.f2py", "numpy.distutils", "numpy.testing._private.extbuild",
    # (not torch.testing._internal: torch.utils.checkpoint imports it when torch loads)
    "torch.utils.benchmark", "torch.utils.tensorboard",
    "torch.utils.bottleneck", "torch._inductor.fx_passes.serialized_patterns",
    "PIL.ImageQt", "PIL.ImageTk",
    # Pillow's AVIF codec (libavif + its AV1 codecs, ~8 MB): the app reads and writes PNG/JPEG
    "PIL._avif", "PIL.AvifImagePlugin",
    # OpenCV: no longer used (numpy/Pillow replaced it); excluded so that a stray import fails
    # the frozen smoke tests instead of adding 150 MB to the build
    "cv2",
    # scientific stacks pulled in unasked
    "scipy", "networkx", "matplotlib", "pandas", "IPython", "jedi", "sklearn", "tensorboard",
    "onnx", "onnxruntime", "triton", "jinja2", "pygments", "docutils",
    # other Qt bindings (qtpy probes them; we use PySide6)
    "PyQt5", "PyQt6", "PySide2", "sip",
    # Qt modules the app does not use (it imports QtCore, QtGui, QtWidgets only)
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2", "PySide6.QtQuickTest", "PySide6.QtSql", "PySide6.QtTest",
    "PySide6.QtXml", "PySide6.QtSvg", "PySide6.QtSvgWidgets", "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets", "PySide6.QtPrintSupport", "PySide6.QtConcurrent", "PySide6.QtDBus",
    "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools", "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets", "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtStateMachine",
    "PySide6.QtCharts", "PySide6.QtDataVisualization", "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets", "PySide6.QtWebChannel", "PySide6.QtWebSockets", "PySide6.QtBluetooth",
    "PySide6.QtNfc", "PySide6.QtPositioning", "PySide6.QtSerialPort", "PySide6.QtRemoteObjects",
    "PySide6.QtSpatialAudio", "PySide6.QtTextToSpeech", "PySide6.QtHttpServer", "PySide6.QtGraphs",
    "PySide6.Qt3DCore", "PySide6.Qt3DRender", "PySide6.QtAxContainer", "PySide6.scripts",
    # the standard library's GUI / dev tools
    "tkinter", "_tkinter", "turtle", "idlelib", "lib2to3", "pydoc_data", "ensurepip", "venv",
    # build tools
    "setuptools", "pip", "distutils", "wheel", "pkg_resources",
]

# Files dropped from the collected binaries and data (fnmatch patterns on bundle paths).
DROPPED_FILES = [
    # torch: C++ headers, CMake files, test binaries and test libraries, static archives
    "torch/include/*", "torch/share/*", "torch/bin/*", "torch/test/*",
    "torch/lib/*.a", "torch/lib/*.lib", "torch/lib/libtorchbind_test*", "torch/lib/libjitbackend_test*",
    "torch/lib/libbackend_with_compiler*", "torch/lib/libaoti_custom_ops*", "torch/lib/*test*.so",
    "torch/_inductor/codegen/aoti_runtime/*", "torch/utils/model_dump/*",
    "torchgen/packaged/*",
    "*.pyi", "*/__pycache__/*", "torch/*.h", "torch/*.hpp", "torch/*.cuh", "*.cmake",
    # torch's .py sources (45 MB; the modules themselves are compiled into the executable's
    # archive): only its config modules must stay readable (KEPT_PATTERNS), torch reads their
    # source at import time ("could not get source code" without them)
    "torch/*.py",
    # Qt: libraries of modules we do not use, QML, translations, tools
    "PySide6/Qt/qml/*", "PySide6/Qt/translations/*", "PySide6/Qt/plugins/qmltooling/*",
    "PySide6/Qt/plugins/sqldrivers/*", "PySide6/Qt/plugins/designer/*", "PySide6/Qt/plugins/multimedia/*",
    "PySide6/Qt/plugins/imageformats/libqpdf*", "PySide6/Qt/plugins/imageformats/qpdf*",
    "PySide6/Qt/plugins/networkinformation/*", "PySide6/Qt/plugins/tls/*",
    # embedded / kiosk platforms (no desktop use) and the GTK3 theme plugin, which drags GTK's
    # libraries (glib, cairo, harfbuzz...) in; the app draws its own qdarkstyle theme
    "PySide6/Qt/plugins/platforms/libqeglfs*", "PySide6/Qt/plugins/platforms/libqlinuxfb*",
    "PySide6/Qt/plugins/platforms/libqvnc*", "PySide6/Qt/plugins/platforms/libqvkkhrdisplay*",
    "PySide6/Qt/plugins/platforms/libqminimalegl*", "PySide6/Qt/plugins/egldeviceintegrations/*",
    "PySide6/Qt/plugins/platformthemes/libqgtk3*", "PySide6/Qt/plugins/generic/*",
    "PySide6/Qt/lib/libQt6EglFS*", "PySide6/Qt/lib/libQt6EglFs*", "PySide6/Qt/lib/libQt6Network*",
    "PySide6/Qt/lib/libQt6Quick*", "PySide6/Qt/lib/libQt6Qml*", "PySide6/Qt/lib/libQt6Pdf*",
    "PySide6/Qt/lib/libQt6Designer*", "PySide6/Qt/lib/libQt6Sql*", "PySide6/Qt/lib/libQt6Test*",
    "PySide6/Qt/lib/libQt6Multimedia*", "PySide6/Qt/lib/libQt6ShaderTools*", "PySide6/Qt/lib/libQt6Charts*",
    "PySide6/Qt6Quick*", "PySide6/Qt6Qml*", "PySide6/Qt6Pdf*",  # Windows/macOS spellings
    "PySide6/*.exe", "PySide6/assistant", "PySide6/designer", "PySide6/linguist", "PySide6/lupdate",
    "PySide6/lrelease", "PySide6/qmlformat", "PySide6/qmlls", "PySide6/qmllint",
    # qdarkstyle: its example program and SVG sources (the stylesheet uses the compiled rc module)
    "qdarkstyle/example/*", "qdarkstyle/svg/*", "qdarkstyle/utils/*",
]

# Shared libraries whose symbol tables build.py strips on Linux (``strip --strip-unneeded``, ELF
# files only, the dynamic symbols stay): libtorch_cpu 415 -> 345 MB, libpython 23 -> 6 MB, and
# ~13 MB over numpy, Pillow, ICU and the standard library's extension modules. Not the
# executables (their Python archive is appended to the ELF file: strip would cut it off), and not
# the wheels' vendored libraries in ``*.libs/`` (auditwheel rewrote them with patchelf; stripped,
# numpy's OpenBLAS fails to load: "ELF load command address/offset not page-aligned").
STRIP_GLOBS = ["_internal/**/*.so", "_internal/**/*.so.*"]
NO_STRIP_GLOBS = ["_internal/*.libs/*"]


# Exceptions to DROPPED_FILES: ``import torch`` checks that torch_shm_manager exists (torch/bin);
# torch's config modules (torch.utils._config_module) read their own source when imported, and
# torch.jit._overload reads the source of the overloaded functions in these three modules (without
# them every start prints 26 "Unable to retrieve source" warnings).
KEPT_FILES = ["torch/bin/torch_shm_manager", "torch/bin/torch_shm_manager.exe",
              "torch/functional.py", "torch/nn/functional.py", "torch/nn/modules/rnn.py"]
KEPT_PATTERNS = ["torch/*config*.py"]


def dropped(dest: str) -> bool:
    """True when a bundle file (its destination path) is left out of the build."""
    d = dest.replace("\\", "/")
    if d in KEPT_FILES or any(fnmatch.fnmatchcase(d, pat) for pat in KEPT_PATTERNS):
        return False
    return any(fnmatch.fnmatchcase(d, pat) for pat in DROPPED_FILES)


def filter_toc(toc):
    """A PyInstaller TOC (``(dest, src, kind)`` tuples) without the dropped files."""
    return [entry for entry in toc if not dropped(entry[0])]


def unreferenced(libraries: list[str], roots: list[str], needed) -> list[str]:
    """The ``libraries`` (bundle paths) that no root loads, directly or through other libraries:
    ``needed(path)`` gives a file's DT_NEEDED names; a name resolves to every bundle file (root or
    library) of that file name. These are left-overs of dropped plugins (the GTK theme's cairo,
    pango, gdk-pixbuf, kerberos...) that PyInstaller collected before the plugin was dropped."""
    by_name: dict[str, list[str]] = {}
    for f in [*libraries, *roots]:
        by_name.setdefault(f.replace("\\", "/").rsplit("/", 1)[-1], []).append(f)
    seen, todo = set(), list(roots)
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for name in needed(f):
            todo += by_name.get(name, [])
    return sorted(f for f in libraries if f not in seen)
