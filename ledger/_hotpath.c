/* ledger._hotpath: the per-line work of bulk recording, compiled — an optional accelerator.
 *
 * A national January is tens of millions of lines; in Python, checking every field of a line and
 * Avro-encoding it cost ~6 us a line, more than everything else the recorder does. Kiroku runs
 * without this module (ledger/accelerator.py, the only importer, then picks the Python twins):
 * each function here is the twin of a Python specification, and property tests hold it to it.
 * It knows no domain rule: field limits, the amount limit and the years of a month come in with
 * the arguments. It uses the full C API, so it is built once per CPython version: on the stable
 * ABI it cost about 5 % of ingest throughput (docs/benchmarks.md, "The accelerator contained").
 *
 *   clean_lines(rules, lines) -> [dict | None, ...]
 *       For each line, its normalized form when every field is already clean, else None; the
 *       caller's careful path then names the problem. Twin: ledger.domain.procedures._clean_lines
 *       (a line is clean when _check would return every value unchanged, in its canonical type).
 *       A rule is (name, check, required, default, low, high[, members]); the checks are
 *         "text"               a non-empty str that str.strip() leaves as it is, low <= length <= high,
 *                              without a control, surrogate or bidi override character
 *         "whole_number"       an int (not a bool), low <= value <= high
 *         "personal_number"    12 ASCII digits, the last the 個人番号 check digit
 *         "municipality_code"  6 ASCII digits, the last the 地方公共団体コード check digit, and a member
 *                              of the rule's seventh item, the frozenset of codes on 総務省's list
 *                              that a line may name (ledger.domain.municipalities): a good check
 *                              digit alone would let a prefecture's code through. Without that
 *                              item no code is clean, and the careful path decides.
 *         "month"              YYYY-MM in ASCII digits, low <= YYYY <= high, 01 <= MM <= 12
 *       (the check digits are twinned with ledger.domain.identifiers).
 *
 *   seal_lines(lines, fields, encrypt, prefix, submission_id) -> [dict, ...]
 *       Each line with its sensitive fields sealed by ``encrypt`` (AESGCM.encrypt of the data key).
 *       Twin and specification of the layout: ledger.service.sealing.seal_lines (byte for byte).
 *
 *   avro_read(plan, data) -> datum
 *       The datum Avro bytes hold, read with the plan of the schema that wrote them (no schema
 *       resolution), as fastavro reads it; raises Misfit when the bytes do not decode exactly
 *       (fastavro then reads them and says what is wrong).
 *
 *   avro_write(plan, datum) -> bytes
 *       Avro binary encoding of ``datum`` for a plan built from a parsed schema by
 *       ledger.encoding.avro_plan. Accepts only the canonical Python type of each Avro type (str,
 *       bytes, int, float, bool, None, dict, list; an aware datetime for a timestamp-micros) and
 *       raises Misfit for anything else, so that fastavro encodes it or explains what does not
 *       fit: the bytes are always fastavro's (fastavro is the twin of both Avro functions).
 *
 * Avro binary encoding: https://avro.apache.org/docs/1.11.1/specification/#binary-encoding
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <string.h>

static PyObject *Misfit; /* ledger._hotpath.Misfit (a ValueError) */

/* ---- clean_lines -------------------------------------------------------------------------- */

/* The checks a rule names (the Python side maps its field kinds to them). */
enum { C_TEXT, C_WHOLE_NUMBER, C_PERSONAL_NUMBER, C_MUNICIPALITY_CODE, C_MONTH, C_COUNT };
static const char *const CHECK_NAMES[C_COUNT] = {"text", "whole_number", "personal_number", "municipality_code", "month"};

/* Exactly ``n`` ASCII digits (what ``s.isascii() and s.isdigit()`` accepts at length n). */
static const Py_UCS1 *ascii_digits(PyObject *v, Py_ssize_t n) {
    if (!PyUnicode_CheckExact(v) || PyUnicode_GET_LENGTH(v) != n || !PyUnicode_IS_ASCII(v)) return NULL;
    const Py_UCS1 *d = PyUnicode_1BYTE_DATA(v);
    for (Py_ssize_t i = 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9') return NULL;
    return d;
}

/* 個人番号: 12 digits, the last = 11 - (sum of digit * Q_n mod 11), 0 when that remainder is 0 or 1. */
static int is_personal_number(PyObject *v) {
    static const int w[11] = {6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
    const Py_UCS1 *d = ascii_digits(v, 12);
    if (d == NULL) return 0;
    int total = 0;
    for (int i = 0; i < 11; i++) total += (d[i] - '0') * w[i];
    int r = total % 11;
    return d[11] - '0' == (r <= 1 ? 0 : 11 - r);
}

/* 地方公共団体コード: 6 digits, the last = the last digit of 11 - (sum with weights 6..2 mod 11),
 * and one of ``members`` (a frozenset of exact str; NULL: none is clean). 1 clean, 0 not, -1 error. */
static int is_municipality_code(PyObject *v, PyObject *members) {
    static const int w[5] = {6, 5, 4, 3, 2};
    const Py_UCS1 *d = ascii_digits(v, 6);
    if (d == NULL || members == NULL) return 0;
    int total = 0;
    for (int i = 0; i < 5; i++) total += (d[i] - '0') * w[i];
    if (d[5] - '0' != (11 - total % 11) % 10) return 0;
    return PySet_Contains(members, v);
}

/* A character no text field takes: C0 controls and DEL, C1 controls, surrogates, and the bidi
 * embeddings, overrides and isolates. Twin: ledger.domain.procedures.FORBIDDEN_TEXT. */
static int is_forbidden(Py_UCS4 c) {
    return c <= 0x1F || (c >= 0x7F && c <= 0x9F) || (c >= 0xD800 && c <= 0xDFFF) || (c >= 0x202A && c <= 0x202E)
           || (c >= 0x2066 && c <= 0x2069);
}

/* Non-empty text of low..high characters that str.strip() would leave as it is, holding no
 * forbidden character. */
static int is_text(PyObject *v, long long low, long long high) {
    if (!PyUnicode_CheckExact(v)) return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    if (n < low || n > high || n == 0) return 0;
    if (Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(v, 0)) || Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(v, n - 1))) return 0;
    int kind = PyUnicode_KIND(v);
    const void *data = PyUnicode_DATA(v);
    for (Py_ssize_t i = 0; i < n; i++)
        if (is_forbidden(PyUnicode_READ(kind, data, i))) return 0;
    return 1;
}

/* A whole number low <= v <= high (bool is not one: PyLong_CheckExact refuses it). */
static int is_whole_number(PyObject *v, long long low, long long high) {
    if (!PyLong_CheckExact(v)) return 0;
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (x == -1 && PyErr_Occurred())) { PyErr_Clear(); return 0; }
    return low <= x && x <= high;
}

/* YYYY-MM in ASCII digits, the year low..high, the month 01..12. */
static int is_month(PyObject *v, long long low, long long high) {
    if (!PyUnicode_CheckExact(v) || PyUnicode_GET_LENGTH(v) != 7 || !PyUnicode_IS_ASCII(v)) return 0;
    const Py_UCS1 *d = PyUnicode_1BYTE_DATA(v);
    if (d[4] != '-') return 0;
    int year = 0, month = 0;
    for (int i = 0; i < 7; i++) {
        if (i == 4) continue;
        if (d[i] < '0' || d[i] > '9') return 0;
        if (i < 4) year = year * 10 + (d[i] - '0');
        else month = month * 10 + (d[i] - '0');
    }
    return low <= year && year <= high && 1 <= month && month <= 12;
}

typedef struct {
    PyObject *name;     /* borrowed from the rules tuple */
    int check;
    int required;
    PyObject *fallback; /* borrowed: stored when an optional field is empty */
    long long low, high;
    PyObject *members;  /* borrowed from the rules tuple: a frozenset, or NULL */
} Rule;

static int read_rules(PyObject *rules, Rule **out, Py_ssize_t *count) {
    if (!PyTuple_CheckExact(rules)) {
        PyErr_SetString(PyExc_TypeError, "rules must be a tuple of (name, check, required, default, low, high[, members])");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(rules);
    Rule *r = PyMem_New(Rule, n > 0 ? n : 1);
    if (r == NULL) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyTuple_GET_ITEM(rules, i);
        Py_ssize_t size = PyTuple_CheckExact(t) ? PyTuple_GET_SIZE(t) : 0;
        if ((size != 6 && size != 7) || !PyUnicode_CheckExact(PyTuple_GET_ITEM(t, 0))
            || !PyUnicode_CheckExact(PyTuple_GET_ITEM(t, 1))
            || (size == 7 && !PyFrozenSet_CheckExact(PyTuple_GET_ITEM(t, 6)))) {
            PyMem_Free(r);
            PyErr_SetString(PyExc_TypeError, "each rule is (name: str, check: str, required: bool, default, low: int, "
                                             "high: int[, members: frozenset])");
            return -1;
        }
        r[i].members = size == 7 ? PyTuple_GET_ITEM(t, 6) : NULL;
        r[i].name = PyTuple_GET_ITEM(t, 0);
        PyObject *check = PyTuple_GET_ITEM(t, 1);
        r[i].check = C_COUNT;
        for (int c = 0; c < C_COUNT; c++)
            if (PyUnicode_CompareWithASCIIString(check, CHECK_NAMES[c]) == 0) r[i].check = c;
        r[i].required = PyObject_IsTrue(PyTuple_GET_ITEM(t, 2));
        r[i].fallback = PyTuple_GET_ITEM(t, 3);
        r[i].low = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 4));
        r[i].high = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 5));
        if (PyErr_Occurred() || r[i].required < 0) { PyMem_Free(r); return -1; }
        if (r[i].check == C_COUNT) {
            PyMem_Free(r);
            PyErr_Format(PyExc_ValueError, "unknown check %R", check);
            return -1;
        }
    }
    *out = r;
    *count = n;
    return 0;
}

static int value_is_clean(const Rule *r, PyObject *v) {
    switch (r->check) {
    case C_TEXT: return is_text(v, r->low, r->high);
    case C_WHOLE_NUMBER: return is_whole_number(v, r->low, r->high);
    case C_PERSONAL_NUMBER: return is_personal_number(v);
    case C_MUNICIPALITY_CODE: return is_municipality_code(v, r->members);
    default: return is_month(v, r->low, r->high);
    }
}

/* The normalized line (a new reference), Py_None (new reference) when not clean, NULL on error. */
static PyObject *clean_line(const Rule *rules, Py_ssize_t n, PyObject *line) {
    if (!PyDict_CheckExact(line)) Py_RETURN_NONE;
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    Py_ssize_t present = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyDict_GetItemWithError(line, rules[i].name);
        if (v == NULL && PyErr_Occurred()) goto error;
        if (v != NULL) present++;
        if (v == NULL || v == Py_None) {
            if (rules[i].required) goto unclean;
            v = rules[i].fallback;
        } else {
            int clean = value_is_clean(&rules[i], v);
            if (clean < 0) goto error;
            if (!clean) goto unclean;
        }
        /* held while stored: a key's __eq__ (run by a later lookup) could replace it in the line */
        Py_INCREF(v);
        int stored = PyDict_SetItem(out, rules[i].name, v);
        Py_DECREF(v);
        if (stored < 0) goto error;
    }
    if (present != PyDict_GET_SIZE(line)) goto unclean; /* a field no rule knows */
    return out;
unclean:
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    Py_DECREF(out);
    return NULL;
}

static PyObject *clean_lines(PyObject *self, PyObject *args) {
    PyObject *rules_obj, *lines;
    if (!PyArg_ParseTuple(args, "OO!:clean_lines", &rules_obj, &PyList_Type, &lines)) return NULL;
    Rule *rules;
    Py_ssize_t n;
    if (read_rules(rules_obj, &rules, &n) < 0) return NULL;
    Py_ssize_t count = PyList_GET_SIZE(lines);
    PyObject *out = PyList_New(count);
    if (out == NULL) { PyMem_Free(rules); return NULL; }
    for (Py_ssize_t i = 0; i < count; i++) {
        /* a key's __eq__, run by a lookup, could change the list: hold the line, check the size */
        if (PyList_GET_SIZE(lines) != count) {
            PyErr_SetString(PyExc_RuntimeError, "the lines changed while they were checked");
            Py_DECREF(out);
            PyMem_Free(rules);
            return NULL;
        }
        PyObject *line = Py_NewRef(PyList_GET_ITEM(lines, i));
        PyObject *clean = clean_line(rules, n, line);
        Py_DECREF(line);
        if (clean == NULL) { Py_DECREF(out); PyMem_Free(rules); return NULL; }
        PyList_SET_ITEM(out, i, clean);
    }
    PyMem_Free(rules);
    return out;
}

/* ---- seal_lines --------------------------------------------------------------------------- */

static PyObject *seal_lines(PyObject *self, PyObject *args) {
    PyObject *lines, *fields, *encrypt;
    const char *prefix, *sid;
    Py_ssize_t prefix_len, sid_len;
    if (!PyArg_ParseTuple(args, "O!O!Oy#y#:seal_lines", &PyList_Type, &lines, &PyTuple_Type, &fields, &encrypt,
                          &prefix, &prefix_len, &sid, &sid_len))
        return NULL;
    if (prefix_len != 8) {
        PyErr_SetString(PyExc_ValueError, "the nonce prefix is 8 bytes");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(lines), nfields = PyTuple_GET_SIZE(fields);
    PyObject *out = PyList_New(count);
    if (out == NULL) return NULL;
    unsigned long long counter = 0;
    char nonce_raw[12];
    memcpy(nonce_raw, prefix, 8);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (PyList_GET_SIZE(lines) != count) { /* ``encrypt`` is Python code: it could change the list */
            PyErr_SetString(PyExc_RuntimeError, "the lines changed while they were sealed");
            goto error;
        }
        PyObject *line = PyList_GET_ITEM(lines, i);
        if (!PyDict_CheckExact(line)) {
            PyErr_Format(PyExc_TypeError, "line %zd is a %.80s, not a dict", i + 1, Py_TYPE(line)->tp_name);
            goto error;
        }
        PyObject *sealed = PyDict_Copy(line);
        if (sealed == NULL) goto error;
        PyList_SET_ITEM(out, i, sealed);
        for (Py_ssize_t f = 0; f < nfields; f++) {
            PyObject *name = PyTuple_GET_ITEM(fields, f);
            PyObject *value = PyDict_GetItemWithError(sealed, name);
            if (value == NULL) {
                if (!PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "line %zd has no %R", i + 1, name);
                goto error;
            }
            if (!PyUnicode_CheckExact(value)) {
                PyErr_Format(PyExc_TypeError, "line %zd: %R is a %.80s, not text", i + 1, name, Py_TYPE(value)->tp_name);
                goto error;
            }
            if (++counter > 0xFFFFFFFFULL) {
                PyErr_SetString(PyExc_OverflowError, "more than 2**32 - 1 sealed fields in one submission");
                goto error;
            }
            for (int k = 0; k < 4; k++) nonce_raw[8 + k] = (char)((counter >> (8 * (3 - k))) & 0xFF);
            PyObject *nonce = PyBytes_FromStringAndSize(nonce_raw, 12);
            PyObject *plain = PyUnicode_AsUTF8String(value);
            Py_ssize_t name_len;
            const char *name_utf8 = PyUnicode_AsUTF8AndSize(name, &name_len);
            PyObject *aad = NULL;
            char middle[40];
            int n = snprintf(middle, sizeof middle, "/lines[%zd].", i + 1);
            if (name_utf8 != NULL && (aad = PyBytes_FromStringAndSize(NULL, sid_len + n + name_len)) != NULL) {
                /* <submission id>/lines[<n>].<field>, as b"%s/lines[%d].%s" writes it */
                char *at = PyBytes_AS_STRING(aad);
                memcpy(at, sid, (size_t)sid_len);
                memcpy(at + sid_len, middle, (size_t)n);
                memcpy(at + sid_len + n, name_utf8, (size_t)name_len);
            }
            PyObject *ciphertext = NULL;
            if (nonce != NULL && plain != NULL && aad != NULL) {
                PyObject *call[3] = {nonce, plain, aad};
                ciphertext = PyObject_Vectorcall(encrypt, call, 3, NULL);
            }
            Py_XDECREF(plain);
            Py_XDECREF(aad);
            if (ciphertext == NULL || !PyBytes_Check(ciphertext)) {
                if (ciphertext != NULL) PyErr_SetString(PyExc_TypeError, "encrypt must return bytes");
                Py_XDECREF(nonce);
                Py_XDECREF(ciphertext);
                goto error;
            }
            PyObject *blob = PyBytes_FromStringAndSize(NULL, 12 + PyBytes_GET_SIZE(ciphertext));
            if (blob != NULL) {
                memcpy(PyBytes_AS_STRING(blob), nonce_raw, 12);
                memcpy(PyBytes_AS_STRING(blob) + 12, PyBytes_AS_STRING(ciphertext), (size_t)PyBytes_GET_SIZE(ciphertext));
            }
            Py_DECREF(nonce);
            Py_DECREF(ciphertext);
            if (blob == NULL) goto error;
            int stored = PyDict_SetItem(sealed, name, blob);
            Py_DECREF(blob);
            if (stored < 0) goto error;
        }
    }
    return out;
error:
    Py_DECREF(out); /* items not yet set are NULL, which list deallocation skips */
    return NULL;
}

/* ---- avro_write --------------------------------------------------------------------------- */

/* Plan tags: the first item of every plan tuple (ledger.encoding.avro_plan builds them). */
enum {
    P_NULL = 0, P_BOOLEAN = 1, P_INT = 2, P_LONG = 3, P_FLOAT = 4, P_DOUBLE = 5, P_BYTES = 6, P_STRING = 7,
    P_RECORD = 8,  /* (8, ((name, plan, has_default, default), ...)) */
    P_ARRAY = 9,   /* (9, item plan) */
    P_MAP = 10,    /* (10, value plan) */
    P_UNION = 11,  /* (11, (branch plan, ...)): branches accept pairwise different Python types */
    P_ENUM = 12,   /* (12, {symbol: index}, (symbol, ...)) */
    P_FIXED = 13,  /* (13, size) */
    P_TIMESTAMP_MICROS = 14, /* (14, the epoch as an aware datetime): a long, from an int or an aware datetime */
};

typedef struct {
    char *data;
    size_t len, cap;
} Buffer;

static int grow(Buffer *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *data = PyMem_Realloc(b->data, cap);
    if (data == NULL) { PyErr_NoMemory(); return -1; }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int put(Buffer *b, const char *src, size_t n) {
    if (grow(b, n) < 0) return -1;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

/* A long: zig-zag, then 7 bits at a time, low first. */
static int put_long(Buffer *b, long long value) {
    if (grow(b, 10) < 0) return -1;
    unsigned long long z = ((unsigned long long)value << 1) ^ (unsigned long long)(value >> 63);
    while (z & ~0x7FULL) {
        b->data[b->len++] = (char)((z & 0x7F) | 0x80);
        z >>= 7;
    }
    b->data[b->len++] = (char)z;
    return 0;
}

static int misfit(const char *expected, PyObject *datum) {
    PyErr_Format(Misfit, "expected %s, got %.80s", expected, Py_TYPE(datum)->tp_name);
    return -1;
}

static int write_datum(Buffer *b, PyObject *plan, PyObject *datum);

static int write_string(Buffer *b, PyObject *datum) {
    if (!PyUnicode_CheckExact(datum)) return misfit("str", datum);
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(datum, &n);
    if (utf8 == NULL) { /* lone surrogates: fastavro's error is the one to show */
        PyErr_Clear();
        return misfit("text encodable as UTF-8", datum);
    }
    return put_long(b, n) < 0 ? -1 : put(b, utf8, (size_t)n);
}

static int write_record(Buffer *b, PyObject *fields, PyObject *datum) {
    if (!PyDict_CheckExact(datum)) return misfit("dict", datum);
    Py_ssize_t n = PyTuple_GET_SIZE(fields), present = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *field = PyTuple_GET_ITEM(fields, i);
        PyObject *v = PyDict_GetItemWithError(datum, PyTuple_GET_ITEM(field, 0));
        if (v == NULL) {
            if (PyErr_Occurred()) return -1;
            if (!PyObject_IsTrue(PyTuple_GET_ITEM(field, 2))) /* required, and missing */
                return misfit("every field without a default", datum);
            v = PyTuple_GET_ITEM(field, 3);
        } else {
            present++;
        }
        Py_INCREF(v); /* held while written: borrowed values must outlive any code a lookup runs */
        int written = write_datum(b, PyTuple_GET_ITEM(field, 1), v);
        Py_DECREF(v);
        if (written < 0) return -1;
    }
    if (present != PyDict_GET_SIZE(datum)) return misfit("no field the schema does not name", datum);
    return 0;
}

/* Does a plan take this Python type? (unions pick their branch by it, as fastavro does for
 * the canonical types; avro_plan refuses unions where two branches take the same type.) */
static int takes(PyObject *plan, PyObject *datum) {
    switch (PyLong_AsLong(PyTuple_GET_ITEM(plan, 0))) {
    case P_NULL: return datum == Py_None;
    case P_BOOLEAN: return PyBool_Check(datum);
    case P_INT: case P_LONG: return PyLong_CheckExact(datum);
    case P_FLOAT: case P_DOUBLE: return PyFloat_CheckExact(datum);
    case P_BYTES: case P_FIXED: return PyBytes_CheckExact(datum);
    case P_STRING: case P_ENUM: return PyUnicode_CheckExact(datum);
    case P_RECORD: case P_MAP: return PyDict_CheckExact(datum);
    case P_TIMESTAMP_MICROS: return PyLong_CheckExact(datum) || PyDateTime_CheckExact(datum);
    case P_ARRAY: return PyList_CheckExact(datum);
    default: return 0;
    }
}

static int write_datum(Buffer *b, PyObject *plan, PyObject *datum) {
    long tag = PyLong_AsLong(PyTuple_GET_ITEM(plan, 0));
    switch (tag) {
    case P_NULL:
        return datum == Py_None ? 0 : misfit("None", datum);
    case P_BOOLEAN:
        if (!PyBool_Check(datum)) return misfit("bool", datum);
        return put(b, datum == Py_True ? "\x01" : "\x00", 1);
    case P_INT:
    case P_LONG: {
        if (!PyLong_CheckExact(datum)) return misfit("int", datum);
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(datum, &overflow);
        if (x == -1 && PyErr_Occurred()) return -1;
        if (overflow || (tag == P_INT && (x < INT32_MIN || x > INT32_MAX)))
            return misfit(tag == P_INT ? "an int of 32 bits" : "an int of 64 bits", datum);
        return put_long(b, x);
    }
    case P_FLOAT:
    case P_DOUBLE: {
        if (!PyFloat_CheckExact(datum)) return misfit("float", datum);
        char raw[8];
        int size = tag == P_FLOAT ? 4 : 8;
        int failed = size == 4 ? PyFloat_Pack4(PyFloat_AS_DOUBLE(datum), raw, 1) : PyFloat_Pack8(PyFloat_AS_DOUBLE(datum), raw, 1);
        if (failed) { PyErr_Clear(); return misfit("a float that fits", datum); }
        return put(b, raw, (size_t)size);
    }
    case P_BYTES:
        if (!PyBytes_CheckExact(datum)) return misfit("bytes", datum);
        return put_long(b, PyBytes_GET_SIZE(datum)) < 0 ? -1 : put(b, PyBytes_AS_STRING(datum), (size_t)PyBytes_GET_SIZE(datum));
    case P_STRING:
        return write_string(b, datum);
    case P_RECORD:
        return write_record(b, PyTuple_GET_ITEM(plan, 1), datum);
    case P_ARRAY: {
        if (!PyList_CheckExact(datum)) return misfit("list", datum);
        Py_ssize_t n = PyList_GET_SIZE(datum);
        if (n > 0) {
            if (put_long(b, n) < 0) return -1;
            PyObject *items = PyTuple_GET_ITEM(plan, 1);
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(datum); i++) {
                PyObject *item = PyList_GET_ITEM(datum, i);
                Py_INCREF(item);
                int written = write_datum(b, items, item);
                Py_DECREF(item);
                if (written < 0) return -1;
            }
            if (PyList_GET_SIZE(datum) != n) return misfit("a list that does not change while encoded", datum);
        }
        return put_long(b, 0);
    }
    case P_MAP: {
        if (!PyDict_CheckExact(datum)) return misfit("dict", datum);
        Py_ssize_t n = PyDict_GET_SIZE(datum), pos = 0;
        if (n > 0) {
            if (put_long(b, n) < 0) return -1;
            PyObject *key, *value, *values = PyTuple_GET_ITEM(plan, 1);
            while (PyDict_Next(datum, &pos, &key, &value)) {
                Py_INCREF(value);
                int written = write_string(b, key) < 0 ? -1 : write_datum(b, values, value);
                Py_DECREF(value);
                if (written < 0) return -1;
            }
            if (PyDict_GET_SIZE(datum) != n) return misfit("a dict that does not change while encoded", datum);
        }
        return put_long(b, 0);
    }
    case P_UNION: {
        PyObject *branches = PyTuple_GET_ITEM(plan, 1);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(branches); i++) {
            PyObject *branch = PyTuple_GET_ITEM(branches, i);
            if (takes(branch, datum)) return put_long(b, i) < 0 ? -1 : write_datum(b, branch, datum);
        }
        return misfit("a type one of the union's branches takes", datum);
    }
    case P_ENUM: {
        if (!PyUnicode_CheckExact(datum)) return misfit("str", datum);
        PyObject *index = PyDict_GetItemWithError(PyTuple_GET_ITEM(plan, 1), datum);
        if (index == NULL) return PyErr_Occurred() ? -1 : misfit("one of the enum's symbols", datum);
        return put_long(b, PyLong_AsLongLong(index));
    }
    case P_TIMESTAMP_MICROS: {
        if (PyLong_CheckExact(datum)) {
            int overflow = 0;
            long long x = PyLong_AsLongLongAndOverflow(datum, &overflow);
            if (x == -1 && PyErr_Occurred()) return -1;
            return overflow ? misfit("an int of 64 bits", datum) : put_long(b, x);
        }
        /* An aware datetime: whole microseconds since the epoch, as fastavro counts them
         * ((delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds); a naive one is
         * fastavro's to interpret. */
        if (!PyDateTime_CheckExact(datum)) return misfit("datetime or int", datum);
        if (PyDateTime_DATE_GET_TZINFO(datum) == Py_None) return misfit("an aware datetime", datum);
        PyObject *delta = PyNumber_Subtract(datum, PyTuple_GET_ITEM(plan, 1));
        if (delta == NULL) return -1;
        if (!PyDelta_Check(delta)) { Py_DECREF(delta); return misfit("a datetime minus the epoch to be a timedelta", datum); }
        long long micros = ((long long)PyDateTime_DELTA_GET_DAYS(delta) * 86400 + PyDateTime_DELTA_GET_SECONDS(delta)) * 1000000LL
                           + PyDateTime_DELTA_GET_MICROSECONDS(delta);
        Py_DECREF(delta);
        return put_long(b, micros);
    }
    case P_FIXED:
        if (!PyBytes_CheckExact(datum) || PyBytes_GET_SIZE(datum) != PyLong_AsSsize_t(PyTuple_GET_ITEM(plan, 1)))
            return misfit("bytes of the fixed size", datum);
        return put(b, PyBytes_AS_STRING(datum), (size_t)PyBytes_GET_SIZE(datum));
    default:
        PyErr_Format(PyExc_ValueError, "unknown plan tag %ld", tag);
        return -1;
    }
}

static PyObject *avro_write(PyObject *self, PyObject *args) {
    PyObject *plan, *datum;
    if (!PyArg_ParseTuple(args, "O!O:avro_write", &PyTuple_Type, &plan, &datum)) return NULL;
    Buffer b = {NULL, 0, 0};
    if (write_datum(&b, plan, datum) < 0) { PyMem_Free(b.data); return NULL; }
    PyObject *out = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    PyMem_Free(b.data);
    return out;
}

/* ---- avro_read ---------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *at, *end;
} Reader;

static int corrupt(const char *what) {
    PyErr_Format(Misfit, "the bytes do not decode: %s", what);
    return -1;
}

static int get_long(Reader *r, long long *out) {
    unsigned long long z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->at >= r->end) return corrupt("truncated");
        unsigned char byte = *r->at++;
        z |= (unsigned long long)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = (long long)(z >> 1) ^ -(long long)(z & 1);
            return 0;
        }
    }
    return corrupt("a long longer than 10 bytes");
}

static const unsigned char *take(Reader *r, long long n) {
    if (n < 0 || n > r->end - r->at) { corrupt("truncated"); return NULL; }
    const unsigned char *start = r->at;
    r->at += n;
    return start;
}

static PyObject *read_datum(Reader *r, PyObject *plan);

static PyObject *read_string(Reader *r) {
    long long n;
    const unsigned char *p;
    if (get_long(r, &n) < 0 || (p = take(r, n)) == NULL) return NULL;
    PyObject *text = PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, NULL);
    if (text == NULL) { PyErr_Clear(); corrupt("text that is not UTF-8"); }
    return text;
}

/* Arrays and maps come in blocks: a count (negative: followed by the block's size in bytes),
 * the items, and a zero count at the end. */
static int next_block(Reader *r, long long *count) {
    if (get_long(r, count) < 0) return -1;
    if (*count < 0) {
        long long size;
        if (*count == LLONG_MIN) return corrupt("a block count out of range");
        *count = -*count;
        if (get_long(r, &size) < 0) return -1;
    }
    return 0;
}

static PyObject *read_datum(Reader *r, PyObject *plan) {
    long tag = PyLong_AsLong(PyTuple_GET_ITEM(plan, 0));
    long long n;
    const unsigned char *p;
    switch (tag) {
    case P_NULL:
        Py_RETURN_NONE;
    case P_BOOLEAN:
        if ((p = take(r, 1)) == NULL) return NULL;
        if (*p > 1) { corrupt("a boolean other than 0 or 1"); return NULL; }
        return PyBool_FromLong(*p);
    case P_INT:
    case P_LONG:
        return get_long(r, &n) < 0 ? NULL : PyLong_FromLongLong(n);
    case P_FLOAT:
        if ((p = take(r, 4)) == NULL) return NULL;
        return PyFloat_FromDouble(PyFloat_Unpack4((const char *)p, 1));
    case P_DOUBLE:
        if ((p = take(r, 8)) == NULL) return NULL;
        return PyFloat_FromDouble(PyFloat_Unpack8((const char *)p, 1));
    case P_BYTES:
        if (get_long(r, &n) < 0 || (p = take(r, n)) == NULL) return NULL;
        return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    case P_STRING:
        return read_string(r);
    case P_RECORD: {
        PyObject *fields = PyTuple_GET_ITEM(plan, 1), *out = PyDict_New();
        if (out == NULL) return NULL;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
            PyObject *field = PyTuple_GET_ITEM(fields, i);
            PyObject *value = read_datum(r, PyTuple_GET_ITEM(field, 1));
            if (value == NULL || PyDict_SetItem(out, PyTuple_GET_ITEM(field, 0), value) < 0) {
                Py_XDECREF(value);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(value);
        }
        return out;
    }
    case P_ARRAY:
    case P_MAP: {
        PyObject *inner = PyTuple_GET_ITEM(plan, 1);
        PyObject *out = tag == P_ARRAY ? PyList_New(0) : PyDict_New();
        if (out == NULL) return NULL;
        long long count;
        while (1) {
            if (next_block(r, &count) < 0) goto failed;
            if (count == 0) return out;
            /* every item takes a byte or more, but for nulls and empty records: those many
             * items in that few bytes are fastavro's to read */
            if (count > r->end - r->at) { corrupt("more items than bytes left"); goto failed; }
            for (long long i = 0; i < count; i++) {
                PyObject *key = NULL;
                if (tag == P_MAP && (key = read_string(r)) == NULL) goto failed;
                PyObject *value = read_datum(r, inner);
                int stored = value == NULL ? -1 : tag == P_ARRAY ? PyList_Append(out, value) : PyDict_SetItem(out, key, value);
                Py_XDECREF(key);
                Py_XDECREF(value);
                if (stored < 0) goto failed;
            }
        }
    failed:
        Py_DECREF(out);
        return NULL;
    }
    case P_UNION: {
        PyObject *branches = PyTuple_GET_ITEM(plan, 1);
        if (get_long(r, &n) < 0) return NULL;
        if (n < 0 || n >= PyTuple_GET_SIZE(branches)) { corrupt("a union branch out of range"); return NULL; }
        return read_datum(r, PyTuple_GET_ITEM(branches, (Py_ssize_t)n));
    }
    case P_ENUM: {
        PyObject *symbols = PyTuple_GET_ITEM(plan, 2);
        if (get_long(r, &n) < 0) return NULL;
        if (n < 0 || n >= PyTuple_GET_SIZE(symbols)) { corrupt("an enum index out of range"); return NULL; }
        return Py_NewRef(PyTuple_GET_ITEM(symbols, (Py_ssize_t)n));
    }
    case P_FIXED: {
        Py_ssize_t size = PyLong_AsSsize_t(PyTuple_GET_ITEM(plan, 1));
        if ((p = take(r, size)) == NULL) return NULL;
        return PyBytes_FromStringAndSize((const char *)p, size);
    }
    case P_TIMESTAMP_MICROS: {
        /* the epoch + timedelta(microseconds=n), as fastavro reads it: an aware UTC datetime */
        if (get_long(r, &n) < 0) return NULL;
        long long days = n / 86400000000LL, rest = n % 86400000000LL;
        if (rest < 0) { rest += 86400000000LL; days -= 1; }
        if (days > 999999999LL || days < -999999999LL) { corrupt("a time out of range"); return NULL; }
        PyObject *delta = PyDelta_FromDSU((int)days, (int)(rest / 1000000), (int)(rest % 1000000));
        if (delta == NULL) return NULL;
        PyObject *at = PyNumber_Add(PyTuple_GET_ITEM(plan, 1), delta);
        Py_DECREF(delta);
        if (at == NULL) { PyErr_Clear(); corrupt("a time out of range"); }
        return at;
    }
    default:
        PyErr_Format(PyExc_ValueError, "unknown plan tag %ld", tag);
        return NULL;
    }
}

static PyObject *avro_read(PyObject *self, PyObject *args) {
    PyObject *plan;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "O!y*:avro_read", &PyTuple_Type, &plan, &data)) return NULL;
    Reader r = {(const unsigned char *)data.buf, (const unsigned char *)data.buf + data.len};
    PyObject *out = read_datum(&r, plan);
    if (out != NULL && r.at != r.end) {
        Py_DECREF(out);
        out = NULL;
        corrupt("bytes left after the datum");
    }
    PyBuffer_Release(&data);
    return out;
}

/* ---- module ------------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"clean_lines", clean_lines, METH_VARARGS,
     "clean_lines(rules, lines) -> list: each line's normalized form if every field is clean, else None."},
    {"seal_lines", seal_lines, METH_VARARGS,
     "seal_lines(lines, fields, encrypt, prefix, submission_id) -> list: the lines with their sensitive fields sealed."},
    {"avro_write", avro_write, METH_VARARGS,
     "avro_write(plan, datum) -> bytes: Avro binary encoding; raises Misfit unless every value has its canonical type."},
    {"avro_read", avro_read, METH_VARARGS,
     "avro_read(plan, data) -> datum: the one datum the bytes hold; raises Misfit when they do not decode exactly."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "ledger._hotpath", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hotpath(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Misfit = PyErr_NewExceptionWithDoc("ledger._hotpath.Misfit",
                                       "A value without the canonical Python type of its Avro type: fastavro decides.",
                                       PyExc_ValueError, NULL);
#ifdef Py_LIMITED_API
    long limited = Py_LIMITED_API; /* the oldest CPython whose stable ABI this build uses */
#else
    long limited = 0;
#endif
    if (Misfit == NULL || PyModule_AddObjectRef(m, "Misfit", Misfit) < 0
        || PyModule_AddIntConstant(m, "LIMITED_API", limited) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
