/* The matcher's prefilter in C (matcher.py, step 1): split an ASCII match view into its tokens and ask, of
 * each, whether the vocabulary knows it as clean, as "half" (it may play only a phrase part that its other
 * words rule out) or not at all; and whether three single letters stand in a row ("f u c k").
 *
 * It answers exactly what these Python lines do, with one probe per token into a compact table instead of
 * a str object per token and two probes of a 16 MB frozenset:
 *
 *     tokens = s.split()
 *     unknown = set(tokens) - clean_or_half
 *     half = (set(tokens) & clean_or_half) - clean
 *     spaced = re.search(r" [a-zI] +[a-zI] +[a-zI](?![^ ])", " " + s) is not None
 *
 * Only views that are ASCII and hold no whitespace but ' ' are scanned here (the ASCII match view folds every
 * other whitespace to ' '); for any other view `scan` returns None and the caller takes the Python path.
 *
 * Cost: one pass over the view; per token, one hash of its bytes and one probe sequence in a table filled at
 * most half full, whose longest cluster is fixed when the table is built, so a comment's work is linear in
 * its length whatever tokens it holds. The hash is keyed per table with a seed from the caller (os.urandom),
 * so no one can aim tokens at a cluster they cannot see. A key is compared byte for byte before it counts as
 * found: a token is never taken for a vocabulary word it is not.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_WORD 255 /* a word's length is kept in one byte; longer words are left out (then "unknown") */
#define FLAG_CLEAN 1
#define FLAG_HALF 2

/* An open-addressing table of words: the vocabulary's, or its most frequent few (`hot`, small enough to stay
 * in the CPU's caches, asked first: most of a comment's tokens are those). */
typedef struct {
    uint64_t *slots; /* (tag << 32) | (offset in pool + 1); 0 is an empty slot */
    uint8_t *pool;   /* per word: its length, its flag, its bytes */
    size_t mask;
    size_t pool_len;
    size_t pool_cap;
    Py_ssize_t longest;
    Py_ssize_t count;
} Words;

typedef struct {
    PyObject_HEAD
    Words all;
    Words hot;
    uint64_t seed;
} TableObject;

static uint64_t
mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t
hash_bytes(const uint8_t *p, Py_ssize_t n, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t w = 0;
        memcpy(&w, p, (size_t)n);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    }
    return mix64(h);
}

static int
lookup_hashed(const Words *t, const uint8_t *p, Py_ssize_t n, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = (size_t)h & t->mask;
    for (;;) {
        uint64_t e = t->slots[i];
        if (e == 0) {
            return 0;
        }
        if ((uint32_t)(e >> 32) == tag) {
            const uint8_t *q = t->pool + ((uint32_t)e - 1);
            if (q[0] == (uint8_t)n && memcmp(q + 2, p, (size_t)n) == 0) {
                return q[1];
            }
        }
        i = (i + 1) & t->mask;
    }
}

/* The flag of the word p[0:n] (FLAG_CLEAN or FLAG_HALF), or 0 if the table does not hold it: asked of the hot
 * words first, then of all. */
static int
lookup(const TableObject *t, const uint8_t *p, Py_ssize_t n)
{
    if (n > t->all.longest) {
        return 0;
    }
    uint64_t h = hash_bytes(p, n, t->seed);
    int flag = t->hot.count ? lookup_hashed(&t->hot, p, n, h) : 0;
    return flag ? flag : lookup_hashed(&t->all, p, n, h);
}

static int
insert(Words *t, const uint8_t *p, Py_ssize_t n, int flag, uint64_t h)
{
    if (n <= t->longest && lookup_hashed(t, p, n, h)) {
        return 0;
    }
    if (t->pool_len + (size_t)n + 2 > UINT32_MAX - 1) {
        PyErr_SetString(PyExc_OverflowError, "vocabulary too large for the scan table");
        return -1;
    }
    if (t->pool_len + (size_t)n + 2 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap * 2 : 1 << 16;
        while (cap < t->pool_len + (size_t)n + 2) {
            cap *= 2;
        }
        uint8_t *pool = PyMem_Realloc(t->pool, cap);
        if (pool == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        t->pool = pool;
        t->pool_cap = cap;
    }
    uint32_t offset = (uint32_t)t->pool_len;
    t->pool[offset] = (uint8_t)n;
    t->pool[offset + 1] = (uint8_t)flag;
    memcpy(t->pool + offset + 2, p, (size_t)n);
    t->pool_len += (size_t)n + 2;
    size_t i = (size_t)h & t->mask;
    while (t->slots[i] != 0) {
        i = (i + 1) & t->mask;
    }
    t->slots[i] = ((h >> 32) << 32) | ((uint64_t)offset + 1);
    if (n > t->longest) {
        t->longest = n;
    }
    t->count++;
    return 0;
}

static int
alloc_slots(Words *t, Py_ssize_t words)
{
    /* At most half full (about 40% for the vocabulary): short probe sequences, for the words and the rest. */
    size_t size = 1 << 6;
    while (size < (size_t)words * 2) {
        size *= 2;
    }
    t->slots = PyMem_Calloc(size, sizeof(uint64_t));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->mask = size - 1;
    return 0;
}

/* Add `words` to all the words with `flag`; or, for flag 0, those of them all the words hold to the hot ones,
 * with the flag they have there. */
static int
add_words(TableObject *t, PyObject *words, int flag)
{
    PyObject *it = PyObject_GetIter(words);
    if (it == NULL) {
        return -1;
    }
    PyObject *w;
    while ((w = PyIter_Next(it)) != NULL) {
        if (!PyUnicode_Check(w)) {
            Py_DECREF(w);
            Py_DECREF(it);
            PyErr_SetString(PyExc_TypeError, "vocabulary words must be str");
            return -1;
        }
        /* Only ASCII words can equal a token of an ASCII view; the others stay out. */
        Py_ssize_t n = PyUnicode_GET_LENGTH(w);
        if (PyUnicode_IS_ASCII(w) && n <= MAX_WORD) {
            const uint8_t *p = PyUnicode_1BYTE_DATA(w);
            uint64_t h = hash_bytes(p, n, t->seed);
            int rc = 0;
            if (flag) {
                rc = insert(&t->all, p, n, flag, h);
            }
            else if (n <= t->all.longest) {
                int known = lookup_hashed(&t->all, p, n, h);
                rc = known ? insert(&t->hot, p, n, known, h) : 0;
            }
            if (rc < 0) {
                Py_DECREF(w);
                Py_DECREF(it);
                return -1;
            }
        }
        Py_DECREF(w);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static void
Table_dealloc(TableObject *self)
{
    PyMem_Free(self->all.slots);
    PyMem_Free(self->all.pool);
    PyMem_Free(self->hot.slots);
    PyMem_Free(self->hot.pool);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Table_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"clean", "half", "seed", "hot", NULL};
    PyObject *clean, *half, *hot = NULL;
    unsigned long long seed;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOK|O", kwlist, &clean, &half, &seed, &hot)) {
        return NULL;
    }
    Py_ssize_t n_clean = PyObject_Size(clean);
    Py_ssize_t n_half = PyObject_Size(half);
    Py_ssize_t n_hot = hot != NULL ? PyObject_Size(hot) : 0;
    if (n_clean < 0 || n_half < 0 || n_hot < 0) {
        return NULL;
    }
    TableObject *self = (TableObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->seed = mix64((uint64_t)seed);
    if (alloc_slots(&self->all, n_clean + n_half) < 0 || alloc_slots(&self->hot, n_hot) < 0 ||
        add_words(self, clean, FLAG_CLEAN) < 0 || add_words(self, half, FLAG_HALF) < 0 ||
        (hot != NULL && add_words(self, hot, 0) < 0)) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* Whitespace as str.split() sees it, for ASCII characters. */
static int
is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static int
add_token(PyObject **set, const uint8_t *p, Py_ssize_t n)
{
    if (*set == NULL) {
        *set = PySet_New(NULL);
        if (*set == NULL) {
            return -1;
        }
    }
    PyObject *tok = PyUnicode_New(n, 127);
    if (tok == NULL) {
        return -1;
    }
    memcpy(PyUnicode_1BYTE_DATA(tok), p, (size_t)n);
    int rc = PySet_Add(*set, tok);
    Py_DECREF(tok);
    return rc;
}

PyDoc_STRVAR(Table_scan_doc,
"scan(view, /)\n--\n\n"
"(unknown, half, spaced) for an ASCII match view whose only whitespace is ' ': the set of its tokens the\n"
"table does not hold (None if there are none), the set of those it holds as half (None when `unknown` is\n"
"None: the caller needs them only then), and whether three single letters ([a-zI]) stand in a row.\n"
"None for any other view.");

static PyObject *
Table_scan(TableObject *self, PyObject *view)
{
    if (!PyUnicode_Check(view)) {
        PyErr_SetString(PyExc_TypeError, "scan() needs a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(view)) {
        Py_RETURN_NONE;
    }
    const uint8_t *p = PyUnicode_1BYTE_DATA(view);
    Py_ssize_t n = PyUnicode_GET_LENGTH(view);
    PyObject *unknown = NULL;
    /* Where the half tokens stand, kept until the end: their set is built only if a token is unknown. */
    Py_ssize_t half_stack[32];
    Py_ssize_t *half_at = half_stack;
    Py_ssize_t half_n = 0, half_cap = 32;
    int run = 0, spaced = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        if (p[i] == ' ') {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        while (j < n && p[j] != ' ') {
            if (is_space(p[j])) {
                goto other_view;
            }
            j++;
        }
        Py_ssize_t len = j - i;
        if (len == 1 && ((p[i] >= 'a' && p[i] <= 'z') || p[i] == 'I')) {
            if (++run >= 3) {
                spaced = 1;
            }
        }
        else {
            run = 0;
        }
        int flag = lookup(self, p + i, len);
        if (flag == 0) {
            if (add_token(&unknown, p + i, len) < 0) {
                goto error;
            }
        }
        else if (flag == FLAG_HALF) {
            if (half_n + 2 > half_cap) {
                Py_ssize_t *grown;
                if (half_at == half_stack) {
                    grown = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)half_cap * 2);
                    if (grown != NULL) {
                        memcpy(grown, half_stack, sizeof(half_stack));
                    }
                }
                else {
                    grown = PyMem_Realloc(half_at, sizeof(Py_ssize_t) * (size_t)half_cap * 2);
                }
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto error;
                }
                half_at = grown;
                half_cap *= 2;
            }
            half_at[half_n++] = i;
            half_at[half_n++] = len;
        }
        i = j;
    }
    PyObject *half = NULL;
    if (unknown != NULL) {
        for (Py_ssize_t k = 0; k < half_n; k += 2) {
            if (add_token(&half, p + half_at[k], half_at[k + 1]) < 0) {
                Py_XDECREF(half);
                goto error;
            }
        }
    }
    if (half_at != half_stack) {
        PyMem_Free(half_at);
    }
    PyObject *result = PyTuple_New(3);
    if (result == NULL) {
        Py_XDECREF(unknown);
        Py_XDECREF(half);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, unknown != NULL ? unknown : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(result, 1, half != NULL ? half : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(result, 2, PyBool_FromLong(spaced));
    return result;

other_view:
    if (half_at != half_stack) {
        PyMem_Free(half_at);
    }
    Py_XDECREF(unknown);
    Py_RETURN_NONE;

error:
    if (half_at != half_stack) {
        PyMem_Free(half_at);
    }
    Py_XDECREF(unknown);
    return NULL;
}

static PyObject *
Table_len(TableObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(self->all.count);
}

static PyObject *
Table_nbytes(TableObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t((self->all.mask + self->hot.mask + 2) * sizeof(uint64_t) + self->all.pool_cap +
                             self->hot.pool_cap);
}

static PyMethodDef Table_methods[] = {
    {"scan", (PyCFunction)Table_scan, METH_O, Table_scan_doc},
    {"size", (PyCFunction)Table_len, METH_NOARGS, "size()\n--\n\nThe number of words held."},
    {"nbytes", (PyCFunction)Table_nbytes, METH_NOARGS, "nbytes()\n--\n\nThe memory the table takes."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Table_doc,
"Table(clean, half, seed, hot=())\n--\n\n"
"The vocabulary's ASCII words, each marked clean or half (two iterables of str, disjoint), in a table\n"
"keyed with `seed` (a 64-bit int); those of `hot` (the most frequent) also in a small table asked first.");

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "service.wordlist._scan.Table",
    .tp_basicsize = sizeof(TableObject),
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = Table_doc,
    .tp_methods = Table_methods,
    .tp_new = Table_new,
};

static struct PyModuleDef scan_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "service.wordlist._scan",
    .m_doc = "The word list's prefilter in C: see service/wordlist/scan.py.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    if (PyType_Ready(&TableType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&scan_module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Table", (PyObject *)&TableType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
