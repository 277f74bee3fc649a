/* Compiled per-packet receive path for RTP/PS over UDP (see vigil/media/rtp_lane.py).
 *
 * Python keeps every decision that is not per packet. This file does only what a healthy
 * stream does to almost every datagram, and hands everything else back untouched:
 *
 *   - recvmmsg(2) drains a UDP socket in batches (one system call per VLEN datagrams
 *     instead of one recvfrom per datagram, and no 64 KiB buffer allocated per datagram);
 *   - a datagram is routed by the SSRC in octets 8-11 (RFC 3550 §5.1), as the shared port
 *     of GB/T 28181 reference §11.4 does, to its stream's pipeline and that pipeline's Lane;
 *   - when the Lane is armed, the packet has a plain 12-byte header, the expected SSRC,
 *     the stream's current source address and exactly the next sequence number, it is
 *     counted (packets, bytes, RFC 3550 A.8 interarrival jitter) and its payload is
 *     appended to the frame being joined; a frame ends at the RTP marker, at a timestamp
 *     change or after MAX_FRAME_PARTS packets, exactly as PsIngest.push_payload does;
 *   - anything else (first packets, loss, reordering, CSRCs/extensions/padding, a new
 *     source or SSRC, RTCP, garbage) is returned as (data, (host, port)) for the Python
 *     path, and the Lane stops taking packets until Python has folded its state back
 *     (Lane.disarm) and re-armed it. Order is kept: frames and returned datagrams come
 *     out in arrival order.
 *
 * The GIL is held throughout (the socket is non-blocking), so the static receive buffers
 * are never used by two calls at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define RTP_HEADER 12
#define MAX_FRAME_PARTS 64 /* PsIngest.MAX_FRAME_PACKETS */
#define VLEN 32            /* datagrams per recvmmsg call */
#define SLOT_BYTES 65536   /* the largest UDP payload fits: never truncated */

typedef struct {
    PyObject_HEAD
    int armed;   /* the Lane's state is authoritative (Python must fold before using its own) */
    int stalled; /* a datagram went to Python: take no more until disarm/arm */
    int touched; /* already listed in this call's `touched` */
    uint32_t ssrc;
    int family;
    uint16_t port_be;
    unsigned char addr[16];
    uint16_t next_seq;
    int64_t timestamp;    /* of the frame being joined; -1: none */
    int64_t last_transit; /* -1: none yet */
    int64_t jitter_q4;
    /* since the last collect() */
    Py_ssize_t packets;
    long long bytes;
    double last_packet_s;
    /* the frame being joined */
    char *buf;
    Py_ssize_t len, cap;
    int nparts;
    Py_ssize_t offsets[MAX_FRAME_PARTS + 1];
} Lane;

static PyTypeObject LaneType;
static PyObject *lane_attr; /* interned "lane" */

/* host and port as the fields of a sockaddr; 0 if host is not an IP address. */
static int parse_address(const char *host, int port, int *family, uint16_t *port_be,
                         unsigned char addr[16]) {
    if (port < 0 || port > 65535) return 0;
    if (inet_pton(AF_INET, host, addr) == 1) {
        *family = AF_INET;
    } else if (inet_pton(AF_INET6, host, addr) == 1) {
        *family = AF_INET6;
    } else {
        return 0;
    }
    *port_be = htons((uint16_t)port);
    return 1;
}

static int same_source(const Lane *lane, const struct sockaddr *sa) {
    if (sa->sa_family != lane->family) return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return in->sin_port == lane->port_be && memcmp(&in->sin_addr, lane->addr, 4) == 0;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    return in6->sin6_port == lane->port_be && memcmp(&in6->sin6_addr, lane->addr, 16) == 0;
}

static int reserve(Lane *lane, Py_ssize_t more) {
    Py_ssize_t need = lane->len + more;
    if (need <= lane->cap) return 1;
    Py_ssize_t cap = lane->cap ? lane->cap : 16384;
    while (cap < need) cap *= 2;
    char *grown = PyMem_Realloc(lane->buf, (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    lane->buf = grown;
    lane->cap = cap;
    return 1;
}

static int append_part(Lane *lane, const unsigned char *data, Py_ssize_t size) {
    if (!reserve(lane, size)) return 0;
    memcpy(lane->buf + lane->len, data, (size_t)size);
    lane->len += size;
    lane->nparts += 1;
    lane->offsets[lane->nparts] = lane->len;
    return 1;
}

static void clear_frame(Lane *lane) {
    lane->len = 0;
    lane->nparts = 0;
    lane->offsets[0] = 0;
}

/* (pipeline, frame bytes, end_of_frame) onto `items`; the frame is cleared. */
static int emit_frame(Lane *lane, PyObject *pipeline, int end_of_frame, PyObject *items) {
    PyObject *frame = PyBytes_FromStringAndSize(lane->buf, lane->len);
    if (frame == NULL) return 0;
    clear_frame(lane);
    PyObject *item = PyTuple_New(3);
    if (item == NULL) {
        Py_DECREF(frame);
        return 0;
    }
    Py_INCREF(pipeline);
    PyTuple_SET_ITEM(item, 0, pipeline);
    PyTuple_SET_ITEM(item, 1, frame);
    PyTuple_SET_ITEM(item, 2, PyBool_FromLong(end_of_frame));
    int failed = PyList_Append(items, item);
    Py_DECREF(item);
    return failed == 0;
}

/* ---- one datagram ------------------------------------------------------------------- */

typedef struct {
    PyObject *streams; /* dict ssrc -> pipeline, or NULL */
    PyObject *single;  /* the pipeline of a dedicated port, or NULL */
    PyObject *items;
    PyObject *touched;
    int64_t arrival_90k;
    double now_s;
    Py_ssize_t fast;
} Route;

static PyObject *address_tuple(const struct sockaddr *sa) {
    char host[INET6_ADDRSTRLEN];
    int port;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    } else {
        host[0] = '\0';
        port = 0;
    }
    return Py_BuildValue("(si)", host, port);
}

static int hand_back(Route *r, const unsigned char *p, Py_ssize_t n, const struct sockaddr *sa) {
    PyObject *data = PyBytes_FromStringAndSize((const char *)p, n);
    if (data == NULL) return 0;
    PyObject *address = address_tuple(sa);
    if (address == NULL) {
        Py_DECREF(data);
        return 0;
    }
    PyObject *item = PyTuple_Pack(2, data, address);
    Py_DECREF(data);
    Py_DECREF(address);
    if (item == NULL) return 0;
    int failed = PyList_Append(r->items, item);
    Py_DECREF(item);
    return failed == 0;
}

/* The pipeline a datagram belongs to (borrowed), or NULL; -1 on a Python error. */
static int find_pipeline(Route *r, uint32_t ssrc, PyObject **pipeline) {
    *pipeline = r->single;
    if (r->streams == NULL) return 0;
    PyObject *key = PyLong_FromUnsignedLong(ssrc);
    if (key == NULL) return -1;
    *pipeline = PyDict_GetItemWithError(r->streams, key);
    Py_DECREF(key);
    return (*pipeline == NULL && PyErr_Occurred()) ? -1 : 0;
}

static Lane *lane_of(PyObject *pipeline) {
    PyObject *lane = PyObject_GetAttr(pipeline, lane_attr);
    if (lane == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_DECREF(lane); /* the pipeline keeps it alive */
    return Py_IS_TYPE(lane, &LaneType) ? (Lane *)lane : NULL;
}

/* The Lane takes no more packets until Python has folded it; listed once in `touched`. */
static int stall(Route *r, Lane *lane, PyObject *pipeline) {
    lane->stalled = 1;
    if (lane->touched) return 1;
    lane->touched = 1;
    return PyList_Append(r->touched, pipeline) == 0;
}

static int route_one(Route *r, const unsigned char *p, Py_ssize_t n, const struct sockaddr *sa) {
    int version_2 = n >= 2 && (p[0] & 0xC0) == 0x80;
    int rtcp = version_2 && p[1] >= 200 && p[1] <= 204; /* RFC 5761 §4 */
    if (n < RTP_HEADER || !version_2 || rtcp) {
        /* RTCP and garbage change no sequence state on the shared port (they are counted
         * and reported); on a dedicated port garbage reaches StreamPipeline.receive. */
        if (r->single != NULL && !rtcp) {
            Lane *lane = lane_of(r->single);
            if (lane != NULL && !stall(r, lane, r->single)) return 0;
        }
        return hand_back(r, p, n, sa);
    }
    uint32_t ssrc = ((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) | ((uint32_t)p[10] << 8) | p[11];
    PyObject *pipeline;
    if (find_pipeline(r, ssrc, &pipeline) < 0) return 0;
    Lane *lane = pipeline == NULL ? NULL : lane_of(pipeline);
    if (lane == NULL) return hand_back(r, p, n, sa);
    uint16_t seq = (uint16_t)((p[2] << 8) | p[3]);
    if (!lane->armed || lane->stalled || p[0] != 0x80 || ssrc != lane->ssrc ||
        seq != lane->next_seq || !same_source(lane, sa)) {
        if (!stall(r, lane, pipeline)) return 0;
        return hand_back(r, p, n, sa);
    }
    /* The fast path: StreamPipeline.receive + Reorderer.push_next + PsIngest.push_payload
     * for an in-order packet with a plain header. */
    uint32_t timestamp = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
    int marker = p[1] & 0x80;
    lane->packets += 1;
    lane->bytes += n;
    lane->last_packet_s = r->now_s;
    r->fast += 1;
    int64_t transit = (int64_t)(uint32_t)(r->arrival_90k - (int64_t)timestamp);
    if (lane->last_transit >= 0) {
        int64_t d = (int64_t)(uint32_t)(transit - lane->last_transit);
        if (d >= 0x80000000LL) d = 0x100000000LL - d;
        lane->jitter_q4 += d - ((lane->jitter_q4 + 8) >> 4);
    }
    lane->last_transit = transit;
    lane->next_seq = (uint16_t)(seq + 1);
    const unsigned char *payload = p + RTP_HEADER;
    Py_ssize_t size = n - RTP_HEADER;
    if ((int64_t)timestamp == lane->timestamp && !marker && lane->nparts < MAX_FRAME_PARTS - 1) {
        return append_part(lane, payload, size);
    }
    if (lane->nparts && (int64_t)timestamp != lane->timestamp) {
        if (!emit_frame(lane, pipeline, 1, r->items)) return 0;
    }
    lane->timestamp = timestamp;
    if (!append_part(lane, payload, size)) return 0;
    if (marker || lane->nparts >= MAX_FRAME_PARTS) {
        return emit_frame(lane, pipeline, marker != 0, r->items);
    }
    return 1;
}

static int route_begin(Route *r, PyObject *streams, PyObject *single, double now_s) {
    r->streams = streams == Py_None ? NULL : streams;
    r->single = single == Py_None ? NULL : single;
    if (r->streams != NULL && !PyDict_Check(r->streams)) {
        PyErr_SetString(PyExc_TypeError, "streams must be a dict or None");
        return 0;
    }
    r->now_s = now_s;
    r->arrival_90k = (int64_t)(now_s * 90000.0); /* as int(now * 90000) in Python */
    r->fast = 0;
    r->items = PyList_New(0);
    r->touched = PyList_New(0);
    return r->items != NULL && r->touched != NULL;
}

/* (fast count, items, touched) for route(), (read, fast count, items, touched, errno) for
 * drain() (read >= 0); touched Lanes are unmarked for the next call. */
static PyObject *route_end(Route *r, int ok, int err, Py_ssize_t read) {
    Py_ssize_t count = r->touched ? PyList_GET_SIZE(r->touched) : 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        Lane *lane = lane_of(PyList_GET_ITEM(r->touched, i));
        if (lane != NULL) lane->touched = 0;
    }
    PyObject *result = NULL;
    if (ok) {
        result = read >= 0
                     ? Py_BuildValue("(nnOOi)", read, r->fast, r->items, r->touched, err)
                     : Py_BuildValue("(nOO)", r->fast, r->items, r->touched);
    }
    Py_XDECREF(r->items);
    Py_XDECREF(r->touched);
    return result;
}

/* ---- module functions ----------------------------------------------------------------- */

static unsigned char slots[VLEN][SLOT_BYTES];
static struct sockaddr_storage names[VLEN];
static struct iovec vectors[VLEN];
static struct mmsghdr headers[VLEN];

PyDoc_STRVAR(drain_doc,
"drain(fd, streams, single, max_datagrams, now_s) -> (read, fast, items, touched, errno)\n\n"
"Read up to max_datagrams from the non-blocking UDP socket fd and route them.");

static PyObject *drain(PyObject *module, PyObject *args) {
    int fd, max_datagrams;
    PyObject *streams, *single;
    double now_s;
    if (!PyArg_ParseTuple(args, "iOOid", &fd, &streams, &single, &max_datagrams, &now_s)) {
        return NULL;
    }
    Route r;
    if (!route_begin(&r, streams, single, now_s)) return route_end(&r, 0, 0, 0);
    int ok = 1, err = 0, left = max_datagrams;
    while (left > 0) {
        int want = left < VLEN ? left : VLEN;
        for (int i = 0; i < want; i++) {
            vectors[i].iov_base = slots[i];
            vectors[i].iov_len = SLOT_BYTES;
            memset(&headers[i], 0, sizeof headers[i]);
            headers[i].msg_hdr.msg_name = &names[i];
            headers[i].msg_hdr.msg_namelen = sizeof names[i];
            headers[i].msg_hdr.msg_iov = &vectors[i];
            headers[i].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(fd, headers, (unsigned int)want, MSG_DONTWAIT, NULL);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
            break;
        }
        for (int i = 0; i < got && ok; i++) {
            ok = route_one(&r, slots[i], (Py_ssize_t)headers[i].msg_len,
                           (const struct sockaddr *)&names[i]);
        }
        if (!ok) break;
        left -= got;
        if (got < want) break; /* the socket is empty: spare a system call */
    }
    return route_end(&r, ok, err, max_datagrams - left);
}

PyDoc_STRVAR(route_doc,
"route(datagrams, streams, single, now_s) -> (fast, items, touched)\n\n"
"Route already received (data, (host, port)) pairs as drain() routes what it reads.");

static PyObject *route(PyObject *module, PyObject *args) {
    PyObject *datagrams, *streams, *single;
    double now_s;
    if (!PyArg_ParseTuple(args, "O!OOd", &PyList_Type, &datagrams, &streams, &single, &now_s)) {
        return NULL;
    }
    Route r;
    if (!route_begin(&r, streams, single, now_s)) return route_end(&r, 0, 0, -1);
    int ok = 1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(datagrams) && ok; i++) {
        const char *host;
        int port;
        Py_buffer data;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(datagrams, i), "y*(si)", &data, &host, &port)) {
            ok = 0;
            break;
        }
        int family;
        uint16_t port_be;
        unsigned char addr[16];
        struct sockaddr_storage name;
        memset(&name, 0, sizeof name);
        if (!parse_address(host, port, &family, &port_be, addr)) {
            PyBuffer_Release(&data);
            PyErr_Format(PyExc_ValueError, "not an IP address: %s", host);
            ok = 0;
            break;
        }
        if (family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&name;
            in->sin_family = AF_INET;
            in->sin_port = port_be;
            memcpy(&in->sin_addr, addr, 4);
        } else {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&name;
            in6->sin6_family = AF_INET6;
            in6->sin6_port = port_be;
            memcpy(&in6->sin6_addr, addr, 16);
        }
        ok = route_one(&r, data.buf, data.len, (const struct sockaddr *)&name);
        PyBuffer_Release(&data);
    }
    return route_end(&r, ok, 0, -1);
}

/* ---- Lane ---------------------------------------------------------------------------- */

static PyObject *lane_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (PyTuple_GET_SIZE(args) || (kwargs != NULL && PyDict_GET_SIZE(kwargs))) {
        PyErr_SetString(PyExc_TypeError, "Lane() takes no arguments");
        return NULL;
    }
    Lane *lane = (Lane *)type->tp_alloc(type, 0);
    if (lane == NULL) return NULL;
    lane->timestamp = -1;
    lane->last_transit = -1;
    return (PyObject *)lane;
}

static void lane_dealloc(Lane *lane) {
    PyMem_Free(lane->buf);
    Py_TYPE(lane)->tp_free((PyObject *)lane);
}

PyDoc_STRVAR(arm_doc,
"arm(ssrc, host, port, next_seq, timestamp, parts, last_transit, jitter_q4) -> bool\n\n"
"Take over the stream's in-order state; False (not armed) if host is not an IP address.");

static PyObject *lane_arm(Lane *lane, PyObject *args) {
    unsigned long ssrc;
    const char *host;
    int port, next_seq;
    long long timestamp, last_transit, jitter_q4;
    PyObject *parts;
    if (!PyArg_ParseTuple(args, "ksiiLO!LL", &ssrc, &host, &port, &next_seq, &timestamp,
                          &PyList_Type, &parts, &last_transit, &jitter_q4)) {
        return NULL;
    }
    if (PyList_GET_SIZE(parts) >= MAX_FRAME_PARTS || next_seq < 0 || next_seq > 0xFFFF ||
        !parse_address(host, port, &lane->family, &lane->port_be, lane->addr)) {
        Py_RETURN_FALSE;
    }
    clear_frame(lane);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parts); i++) {
        Py_buffer part;
        if (PyObject_GetBuffer(PyList_GET_ITEM(parts, i), &part, PyBUF_SIMPLE) != 0) return NULL;
        int ok = append_part(lane, part.buf, part.len);
        PyBuffer_Release(&part);
        if (!ok) return NULL;
    }
    lane->ssrc = (uint32_t)ssrc;
    lane->next_seq = (uint16_t)next_seq;
    lane->timestamp = timestamp;
    lane->last_transit = last_transit;
    lane->jitter_q4 = jitter_q4;
    lane->armed = 1;
    lane->stalled = 0;
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(collect_doc,
"collect() -> (packets, bytes, last_packet_s, last_transit, jitter_q4)\n\n"
"The counts since the last collect (then zeroed) and the jitter state.");

static PyObject *lane_collect(Lane *lane, PyObject *unused) {
    PyObject *result = Py_BuildValue("(nLdLL)", lane->packets, lane->bytes, lane->last_packet_s,
                                     (long long)lane->last_transit, (long long)lane->jitter_q4);
    lane->packets = 0;
    lane->bytes = 0;
    return result;
}

PyDoc_STRVAR(disarm_doc,
"disarm() -> (next_seq, timestamp, parts)\n\n"
"Give the in-order state back (collect() first): the frame being joined, one bytes per packet.");

static PyObject *lane_disarm(Lane *lane, PyObject *unused) {
    PyObject *parts = PyList_New(lane->nparts);
    if (parts == NULL) return NULL;
    for (int i = 0; i < lane->nparts; i++) {
        Py_ssize_t start = lane->offsets[i];
        PyObject *part = PyBytes_FromStringAndSize(lane->buf + start, lane->offsets[i + 1] - start);
        if (part == NULL) {
            Py_DECREF(parts);
            return NULL;
        }
        PyList_SET_ITEM(parts, i, part);
    }
    clear_frame(lane);
    lane->armed = 0;
    lane->stalled = 0;
    if (lane->cap > (1 << 20)) { /* a burst of huge datagrams: do not keep its buffer */
        PyMem_Free(lane->buf);
        lane->buf = NULL;
        lane->cap = 0;
    }
    return Py_BuildValue("(iLN)", (int)lane->next_seq, (long long)lane->timestamp, parts);
}

static PyObject *lane_get_armed(Lane *lane, void *closure) {
    return PyBool_FromLong(lane->armed);
}

static PyObject *lane_get_stalled(Lane *lane, void *closure) {
    return PyBool_FromLong(lane->stalled);
}

static PyMethodDef lane_methods[] = {
    {"arm", (PyCFunction)lane_arm, METH_VARARGS, arm_doc},
    {"collect", (PyCFunction)lane_collect, METH_NOARGS, collect_doc},
    {"disarm", (PyCFunction)lane_disarm, METH_NOARGS, disarm_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef lane_getset[] = {
    {"armed", (getter)lane_get_armed, NULL, "The compiled path owns the in-order state.", NULL},
    {"stalled", (getter)lane_get_stalled, NULL, "A datagram went to Python since arm().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vigil.media._rtp_fastpath.Lane",
    .tp_basicsize = sizeof(Lane),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One stream's in-order RTP state and the frame being joined.",
    .tp_new = lane_new,
    .tp_dealloc = (destructor)lane_dealloc,
    .tp_methods = lane_methods,
    .tp_getset = lane_getset,
};

static PyMethodDef module_methods[] = {
    {"drain", drain, METH_VARARGS, drain_doc},
    {"route", route, METH_VARARGS, route_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "vigil.media._rtp_fastpath",
    .m_doc = "Compiled per-packet receive path for RTP/PS over UDP.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__rtp_fastpath(void) {
    if (PyType_Ready(&LaneType) < 0) return NULL;
    lane_attr = PyUnicode_InternFromString("lane");
    if (lane_attr == NULL) return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) return NULL;
    Py_INCREF(&LaneType);
    if (PyModule_AddObject(module, "Lane", (PyObject *)&LaneType) < 0) {
        Py_DECREF(&LaneType);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "MAX_FRAME_PARTS", MAX_FRAME_PARTS) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
