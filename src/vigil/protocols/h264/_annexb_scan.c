/* Compiled twin of vigil.protocols.h264.annexb.nal_unit_scan (see there for the rules).
 *
 * Every frame of every stream is scanned for start codes (ITU-T H.264 / H.265 Annex B);
 * bytes.find visits each byte, memchr for the 0x01 of "00 00 01" skips most of them.
 * Same results as the Python loop, which stays the reference (tests compare both).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The first "00 00 01" at or after `from`, or -1. */
static Py_ssize_t find_start_code(const unsigned char *buf, Py_ssize_t from, Py_ssize_t n) {
    Py_ssize_t i = from + 2;
    while (i < n) {
        const unsigned char *one = memchr(buf + i, 0x01, (size_t)(n - i));
        if (one == NULL) return -1;
        i = one - buf;
        if (buf[i - 1] == 0 && buf[i - 2] == 0) return i - 2;
        i += 1;
    }
    return -1;
}

PyDoc_STRVAR(scan_doc,
"scan(buffer, max_units) -> (first, ranges) | None\n\n"
"nal_unit_scan of a contiguous buffer; None when it has more than max_units NAL units.");

static PyObject *scan(PyObject *module, PyObject *args) {
    Py_buffer view;
    Py_ssize_t max_units;
    if (!PyArg_ParseTuple(args, "y*n", &view, &max_units)) return NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t n = view.len;
    PyObject *ranges = PyList_New(0);
    if (ranges == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_ssize_t first = find_start_code(buf, 0, n);
    Py_ssize_t pos = first;
    while (pos >= 0) {
        Py_ssize_t start = pos + 3;
        Py_ssize_t next = find_start_code(buf, start, n);
        Py_ssize_t end = next < 0 ? n : next;
        while (end > start && buf[end - 1] == 0) end--; /* zero_byte, trailing_zero_8bits */
        if (end > start) {
            if (PyList_GET_SIZE(ranges) >= max_units) {
                Py_DECREF(ranges);
                PyBuffer_Release(&view);
                Py_RETURN_NONE;
            }
            PyObject *range = Py_BuildValue("(nn)", start, end);
            if (range == NULL || PyList_Append(ranges, range) != 0) {
                Py_XDECREF(range);
                Py_DECREF(ranges);
                PyBuffer_Release(&view);
                return NULL;
            }
            Py_DECREF(range);
        }
        pos = next;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nN)", first, ranges);
}

static PyMethodDef module_methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "vigil.protocols.h264._annexb_scan",
    .m_doc = "Compiled start-code scan of Annex-B buffers.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__annexb_scan(void) { return PyModule_Create(&module_def); }
