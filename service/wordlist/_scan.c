/* The matcher's prefilter in C (matcher.py, step 1): split a match view into its tokens and ask, of
 * each, whether the vocabulary knows it as clean, as "half" (it may play only a phrase part that its other
 * words rule out) or not at all; of each token it does not know, whether it may take any part at all
 * (may_play: most misspellings and names take none); and whether three single letters stand in a row.
 *
 * It answers what these Python lines do (scan.py; tests/wordlist/test_scan.py holds them equal), with one
 * probe per token into a compact table instead of a str object per token and two probes of 16 MB frozensets:
 *
 *     tokens = set(s.split())
 *     unknown = {t for t in tokens - clean_or_half if token_roles(t) != NO_ROLES}
 *     half = (tokens & clean_or_half) - clean
 *     runs = SPACED_UNSQUEEZED_RE.search(" " + s) is not None | 2 * (SPACED_REPEATED_RE.search(" " + s) is not None)
 *
 * (`unknown` may hold tokens whose roles are none after all: may_play answers "may" where unsure, and for
 * every token that is not ASCII.) Only views holding no whitespace but ' ' are scanned here (the match view
 * folds every other whitespace to ' '); for any other view `scan` returns None and the caller takes the
 * Python path.
 *
 * Cost: one pass over the view; per token, one hash of its bytes and one probe sequence in a table at most
 * half full, whose longest cluster is fixed when the table is built; per unknown token, a bounded number of
 * probes per character. A comment's work is linear in its length whatever tokens it holds. The hash is keyed
 * per table with a seed from the caller (os.urandom), so no one can aim tokens at a cluster they cannot see.
 * A key is compared byte for byte before it counts as found: a token is never taken for a word it is not.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_WORD 255 /* a word's length is kept in one byte; longer words are left out (then "unknown") */
#define FLAG_CLEAN 1
#define FLAG_HALF 2
/* What the shapes table marks (a string may be several): see may_play. */
#define SHAPE_EXACT 1
#define SHAPE_GRAM 2
#define SHAPE_FIRST 4
#define SHAPE_LAST 8
#define GRAM 4          /* the length of the grams: every long term's spelling is at least this long */
#define MAX_SQUEEZED 256 /* longer tokens are squeezed into memory of their own (or asked of Python) */
#define MAX_PHRASE_WORD 63

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
    Words shapes;
    uint64_t seed;
    int filtering;        /* whether may_play answers (else every unknown token may play a part) */
    uint8_t placeholder;  /* the i/l placeholder ('I'): squeezed like a letter, stripped where it closes a token */
    uint8_t mask;         /* the mask character ('*') */
    uint64_t first_lengths; /* bit L: a phrase's first word is L characters long */
    uint64_t last_lengths;
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

/* The pool entry of the word p[0:n] (hashed: h), or NULL if the table does not hold it. */
static uint8_t *
find_entry(const Words *t, const uint8_t *p, Py_ssize_t n, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = (size_t)h & t->mask;
    for (;;) {
        uint64_t e = t->slots[i];
        if (e == 0) {
            return NULL;
        }
        if ((uint32_t)(e >> 32) == tag) {
            uint8_t *q = t->pool + ((uint32_t)e - 1);
            if (q[0] == (uint8_t)n && memcmp(q + 2, p, (size_t)n) == 0) {
                return q;
            }
        }
        i = (i + 1) & t->mask;
    }
}

static int
lookup_hashed(const Words *t, const uint8_t *p, Py_ssize_t n, uint64_t h)
{
    const uint8_t *e = find_entry(t, p, n, h);
    return e != NULL ? e[1] : 0;
}

/* The flag of the word p[0:n] (FLAG_CLEAN or FLAG_HALF), or 0 if the table does not hold it: asked of the hot
 * words first, then of all. */
static inline int
lookup_with(const TableObject *t, const uint8_t *p, Py_ssize_t n, uint64_t h)
{
    int flag = t->hot.count ? lookup_hashed(&t->hot, p, n, h) : 0;
    return flag ? flag : lookup_hashed(&t->all, p, n, h);
}

static int
lookup(const TableObject *t, const uint8_t *p, Py_ssize_t n)
{
    if (n > t->all.longest) {
        return 0;
    }
    return lookup_with(t, p, n, hash_bytes(p, n, t->seed));
}

static int
has_shape(const TableObject *t, const uint8_t *p, Py_ssize_t n, int shape)
{
    if (n > t->shapes.longest) {
        return 0;
    }
    const uint8_t *e = find_entry(&t->shapes, p, n, hash_bytes(p, n, t->seed));
    return e != NULL && (e[1] & shape);
}

/* Whether an unknown token (p[0:n]) may take any part: be dirty, be a single repeated letter, or play a phrase
 * role. 0 only where index.py's `token_roles` must answer NO_ROLES, because it asks of the token (and of q, the
 * token squeezed) nothing that holds here: no mask character; q not one letter repeated; neither q nor the
 * token a short term's spelling or a phrase's middle word (SHAPE_EXACT), nor either of them without its
 * closing placeholders; no four characters of q in a row that begin a long term's spelling (SHAPE_GRAM: the
 * automaton would find none); q neither ending with a phrase's first word nor beginning with its last
 * (SHAPE_FIRST, SHAPE_LAST). Those are the conditions token_roles tests, or wider ones
 * (tests/wordlist/test_scan.py checks both answers agree). */
static int squeezed_may_play(const TableObject *t, const uint8_t *p, Py_ssize_t n, uint8_t *q);

static int
may_play(const TableObject *t, const uint8_t *p, Py_ssize_t n)
{
    if (!t->filtering || n <= 0) {
        return 1;
    }
    uint8_t stack[MAX_SQUEEZED];
    uint8_t *q = n <= MAX_SQUEEZED ? stack : PyMem_Malloc((size_t)n);
    if (q == NULL) {
        return 1; /* no memory to squeeze it into: Python answers */
    }
    int may = squeezed_may_play(t, p, n, q);
    if (q != stack) {
        PyMem_Free(q);
    }
    return may;
}

/* may_play, with `q` room for the token squeezed (n bytes). */
static int
squeezed_may_play(const TableObject *t, const uint8_t *p, Py_ssize_t n, uint8_t *q)
{
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == t->mask) {
            return 1;
        }
        /* normalize.squeeze: a run of one letter (or placeholder) is cut to one; q[m - 1] is p[i - 1]. */
        if (m > 0 && q[m - 1] == c && ((c >= 'a' && c <= 'z') || c == t->placeholder)) {
            continue;
        }
        q[m++] = c;
    }
    if (m == 1 && n > 1) {
        return 1;
    }
    if (has_shape(t, q, m, SHAPE_EXACT) || (m != n && has_shape(t, p, n, SHAPE_EXACT))) {
        return 1;
    }
    if (p[n - 1] == t->placeholder) {
        /* Closing placeholders (usually '!'): the spelling without them, squeezed or as written. */
        Py_ssize_t qm = m, pn = n;
        while (qm > 0 && q[qm - 1] == t->placeholder) {
            qm--;
        }
        while (pn > 0 && p[pn - 1] == t->placeholder) {
            pn--;
        }
        if (qm == 0 || pn == 0 || has_shape(t, q, qm, SHAPE_EXACT) || has_shape(t, p, pn, SHAPE_EXACT)) {
            return 1;
        }
    }
    for (Py_ssize_t i = 0; i + GRAM <= m; i++) {
        if (has_shape(t, q + i, GRAM, SHAPE_GRAM)) {
            return 1;
        }
    }
    for (Py_ssize_t len = 1; len <= m && len <= MAX_PHRASE_WORD; len++) {
        if (((t->first_lengths >> len) & 1) && has_shape(t, q + m - len, len, SHAPE_FIRST)) {
            return 1;
        }
        if (((t->last_lengths >> len) & 1) && has_shape(t, q, len, SHAPE_LAST)) {
            return 1;
        }
    }
    return 0;
}

/* Add the word p[0:n] (hashed: h) with `flag`; a word held already gets `flag` added to its own. */
static int
insert(Words *t, const uint8_t *p, Py_ssize_t n, int flag, uint64_t h)
{
    uint8_t *held = n <= t->longest ? find_entry(t, p, n, h) : NULL;
    if (held != NULL) {
        held[1] |= (uint8_t)flag;
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

/* Call `fn` on each ASCII string of `words` (an iterable of str, `what` in the error otherwise); the others
 * cannot equal, begin or end a token of ASCII bytes, and are passed over. */
typedef int (*ascii_fn)(TableObject *t, const uint8_t *p, Py_ssize_t n, void *ctx);

static int
each_ascii(TableObject *t, PyObject *words, const char *what, ascii_fn fn, void *ctx)
{
    PyObject *it = PyObject_GetIter(words);
    if (it == NULL) {
        return -1;
    }
    PyObject *w;
    while ((w = PyIter_Next(it)) != NULL) {
        int rc = 0;
        if (!PyUnicode_Check(w)) {
            PyErr_Format(PyExc_TypeError, "%s must be str", what);
            rc = -1;
        }
        else if (PyUnicode_IS_ASCII(w)) {
            rc = fn(t, PyUnicode_1BYTE_DATA(w), PyUnicode_GET_LENGTH(w), ctx);
        }
        Py_DECREF(w);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* A vocabulary word, with the flag *ctx; or, for flag 0, a hot word: added to the hot ones with the flag all
 * the words give it (if they hold it). */
static int
add_word(TableObject *t, const uint8_t *p, Py_ssize_t n, void *ctx)
{
    int flag = *(int *)ctx;
    if (n > MAX_WORD) {
        return 0;
    }
    uint64_t h = hash_bytes(p, n, t->seed);
    if (flag) {
        return insert(&t->all, p, n, flag, h);
    }
    int known = n <= t->all.longest ? lookup_hashed(&t->all, p, n, h) : 0;
    return known ? insert(&t->hot, p, n, known, h) : 0;
}

static int
add_words(TableObject *t, PyObject *words, int flag)
{
    return each_ascii(t, words, "vocabulary words", add_word, &flag);
}

static void
Table_dealloc(TableObject *self)
{
    PyMem_Free(self->all.slots);
    PyMem_Free(self->all.pool);
    PyMem_Free(self->hot.slots);
    PyMem_Free(self->hot.pool);
    PyMem_Free(self->shapes.slots);
    PyMem_Free(self->shapes.pool);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

typedef struct {
    int shape;
    uint64_t *lengths; /* for phrase words: bit L set for each one of L characters */
} ShapeKind;

/* A string of a shape (*ctx). One may_play could not answer soundly for turns the filter off (every unknown
 * token then plays). */
static int
add_shape(TableObject *t, const uint8_t *p, Py_ssize_t n, void *ctx)
{
    const ShapeKind *kind = ctx;
    int sound = n > 0 && n <= MAX_WORD && (kind->shape != SHAPE_GRAM || n == GRAM) &&
                (kind->lengths == NULL || n <= MAX_PHRASE_WORD);
    if (!sound) {
        t->filtering = 0;
        return 0;
    }
    if (kind->lengths != NULL) {
        *kind->lengths |= (uint64_t)1 << n;
    }
    return insert(&t->shapes, p, n, kind->shape, hash_bytes(p, n, t->seed));
}

static int
add_shapes(TableObject *t, PyObject *words, int shape, uint64_t *lengths)
{
    ShapeKind kind = {shape, lengths};
    return each_ascii(t, words, "shapes", add_shape, &kind);
}

static Py_ssize_t
size_or_zero(PyObject *o)
{
    return o != NULL ? PyObject_Size(o) : 0;
}

static PyObject *
Table_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"clean", "half", "seed", "hot", "exact", "grams", "firsts", "lasts",
                             "placeholder", "mask", NULL};
    PyObject *clean, *half, *hot = NULL, *exact = NULL, *grams = NULL, *firsts = NULL, *lasts = NULL;
    unsigned long long seed;
    int placeholder = 0, mask = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOK|O$OOOOCC", kwlist, &clean, &half, &seed, &hot, &exact,
                                     &grams, &firsts, &lasts, &placeholder, &mask)) {
        return NULL;
    }
    Py_ssize_t n_clean = PyObject_Size(clean);
    Py_ssize_t n_half = PyObject_Size(half);
    Py_ssize_t n_hot = size_or_zero(hot);
    Py_ssize_t n_shapes = size_or_zero(exact) + size_or_zero(grams) + size_or_zero(firsts) + size_or_zero(lasts);
    if (n_clean < 0 || n_half < 0 || n_hot < 0 || n_shapes < 0) {
        return NULL;
    }
    TableObject *self = (TableObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->seed = mix64((uint64_t)seed);
    if (alloc_slots(&self->all, n_clean + n_half) < 0 || alloc_slots(&self->hot, n_hot) < 0 ||
        alloc_slots(&self->shapes, n_shapes) < 0 || add_words(self, clean, FLAG_CLEAN) < 0 ||
        add_words(self, half, FLAG_HALF) < 0 || (hot != NULL && add_words(self, hot, 0) < 0)) {
        Py_DECREF(self);
        return NULL;
    }
    /* The filter, only with all it asks about (else every unknown token goes to Python). */
    self->filtering = exact != NULL && grams != NULL && firsts != NULL && lasts != NULL && placeholder > 0 &&
                      placeholder < 128 && mask > 0 && mask < 128;
    if (self->filtering) {
        self->placeholder = (uint8_t)placeholder;
        self->mask = (uint8_t)mask;
        if (add_shapes(self, exact, SHAPE_EXACT, NULL) < 0 || add_shapes(self, grams, SHAPE_GRAM, NULL) < 0 ||
            add_shapes(self, firsts, SHAPE_FIRST, &self->first_lengths) < 0 ||
            add_shapes(self, lasts, SHAPE_LAST, &self->last_lengths) < 0) {
            Py_DECREF(self);
            return NULL;
        }
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
add_token(PyObject **set, PyObject *view, Py_ssize_t start, Py_ssize_t end)
{
    if (*set == NULL) {
        *set = PySet_New(NULL);
        if (*set == NULL) {
            return -1;
        }
    }
    PyObject *tok = PyUnicode_Substring(view, start, end);
    if (tok == NULL) {
        return -1;
    }
    int rc = PySet_Add(*set, tok);
    Py_DECREF(tok);
    return rc;
}

PyDoc_STRVAR(Table_scan_doc,
"scan(view, /)\n--\n\n"
"(unknown, half, spaced) for a match view whose only whitespace is ' ': the set of its tokens the\n"
"table does not hold and that may take a part (None if there are none), the set of those it holds as half\n"
"(None when `unknown` is None: the caller needs them only then), and whether three single letters ([a-zI])\n"
"stand in a row (bit 1), or three tokens each of one letter repeated (bit 2). None for any other view.");

/* What scan gathers: the unknown tokens that may play, and where the half tokens stand (kept until the end:
 * their set is built only if a token is unknown). */
typedef struct {
    PyObject *unknown;
    Py_ssize_t *half_at;
    Py_ssize_t half_n, half_cap;
    Py_ssize_t half_stack[32];
} Gathered;

/* One token of the view, view[start:start + len] (bytes `tp`, or NULL: not ASCII, or a long token of a view
 * that is not all ASCII, which Python then answers for), its flag in the table known: an unknown token that may play goes to `unknown`, a half token's place is noted. */
static int
take(const TableObject *self, PyObject *view, Gathered *g, const uint8_t *tp, Py_ssize_t start,
     Py_ssize_t len, int flag)
{
    if (flag == 0) {
        if ((tp == NULL || may_play(self, tp, len)) && add_token(&g->unknown, view, start, start + len) < 0) {
            return -1;
        }
    }
    else if (flag == FLAG_HALF) {
        if (g->half_n + 2 > g->half_cap) {
            Py_ssize_t *grown;
            if (g->half_at == g->half_stack) {
                grown = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)g->half_cap * 2);
                if (grown != NULL) {
                    memcpy(grown, g->half_stack, sizeof(g->half_stack));
                }
            }
            else {
                grown = PyMem_Realloc(g->half_at, sizeof(Py_ssize_t) * (size_t)g->half_cap * 2);
            }
            if (grown == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            g->half_at = grown;
            g->half_cap *= 2;
        }
        g->half_at[g->half_n++] = start;
        g->half_at[g->half_n++] = len;
    }
    return 0;
}

/* The tokens of an ASCII view waiting for their lookups, CHUNK at a time: all their hashes first, each
 * table slot they start at fetched ahead (__builtin_prefetch), then the lookups. Between two comments the
 * rest of the engine pushes the tables out of the CPU's caches, and one token's lookup waiting for memory
 * before the next one's starts was most of the scan's time. */
#define CHUNK 32

static int
take_pending(const TableObject *self, PyObject *view, Gathered *g, const uint8_t *p, const Py_ssize_t *at,
             const Py_ssize_t *lens, int count)
{
    uint64_t hashes[CHUNK];
    for (int k = 0; k < count; k++) {
        if (lens[k] <= self->all.longest) {
            uint64_t h = hash_bytes(p + at[k], lens[k], self->seed);
            hashes[k] = h;
            __builtin_prefetch(&self->hot.slots[h & self->hot.mask]);
            __builtin_prefetch(&self->all.slots[h & self->all.mask]);
        }
    }
    /* The words the first slots point at, fetched ahead too (a token is mostly found at its first slot). */
    for (int k = 0; k < count; k++) {
        if (lens[k] <= self->all.longest) {
            uint64_t h = hashes[k];
            uint64_t e = self->hot.slots[h & self->hot.mask];
            const Words *w = &self->hot;
            if (e == 0 || (uint32_t)(e >> 32) != (uint32_t)(h >> 32)) {
                e = self->all.slots[h & self->all.mask];
                w = &self->all;
            }
            if (e != 0) {
                __builtin_prefetch(w->pool + ((uint32_t)e - 1));
            }
        }
    }
    for (int k = 0; k < count; k++) {
        int flag = lens[k] <= self->all.longest ? lookup_with(self, p + at[k], lens[k], hashes[k]) : 0;
        if (take(self, view, g, p + at[k], at[k], lens[k], flag) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Table.scan for a view that is all ASCII (`ascii`: its bytes read directly) or not (read by kind); inlined
 * into each of the two cases, so the ASCII one pays no test per character. */
static inline __attribute__((always_inline)) PyObject *
scan_view(TableObject *self, PyObject *view, const int ascii)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(view);
    int kind = PyUnicode_KIND(view);
    const void *data = PyUnicode_DATA(view);
    const uint8_t *p = ascii ? PyUnicode_1BYTE_DATA(view) : NULL;
#define CH(k) (ascii ? (Py_UCS4)p[(k)] : PyUnicode_READ(kind, data, (k)))
    Gathered g;
    g.unknown = NULL;
    g.half_at = g.half_stack;
    g.half_n = 0;
    g.half_cap = 32;
    Py_ssize_t pending_at[CHUNK], pending_len[CHUNK];
    int pending = 0;
    int run = 0, run_repeated = 0, spaced = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        if (CH(i) == ' ') {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        int token_ascii = 1;
        for (; j < n; j++) {
            Py_UCS4 c = CH(j);
            if (c == ' ') {
                break;
            }
            /* Other whitespace, which str.split() would split on too: the Python path takes the view. */
            if (c < 128 ? is_space((uint8_t)c) : (token_ascii = 0, Py_UNICODE_ISSPACE(c))) {
                goto other_view;
            }
        }
        Py_ssize_t len = j - i;
        /* Three tokens in a row of one letter each (bit 1), or of one letter repeated (bit 2: "ff u ck" is
         * not one, "ff uu cc" is). */
        Py_UCS4 c0 = CH(i);
        if ((c0 >= 'a' && c0 <= 'z') || c0 == 'I') {
            Py_ssize_t k = i + 1;
            while (k < j && CH(k) == c0) {
                k++;
            }
            run = len == 1 ? run + 1 : 0;
            run_repeated = k == j ? run_repeated + 1 : 0;
            spaced |= (run >= 3 ? 1 : 0) | (run_repeated >= 3 ? 2 : 0);
        }
        else {
            run = run_repeated = 0;
        }
        if (ascii) {
            pending_at[pending] = i;
            pending_len[pending] = len;
            if (++pending == CHUNK) {
                if (take_pending(self, view, &g, p, pending_at, pending_len, pending) < 0) {
                    goto error;
                }
                pending = 0;
            }
        }
        else {
            /* The token's bytes, if it is ASCII (a token that is not is no vocabulary word, and may play). */
            uint8_t buf[MAX_SQUEEZED];
            const uint8_t *tp = NULL;
            if (token_ascii && len <= MAX_SQUEEZED) {
                for (Py_ssize_t k = 0; k < len; k++) {
                    buf[k] = (uint8_t)CH(i + k);
                }
                tp = buf;
            }
            if (take(self, view, &g, tp, i, len, tp != NULL ? lookup(self, tp, len) : 0) < 0) {
                goto error;
            }
        }
        i = j;
    }
    if (pending > 0 && take_pending(self, view, &g, p, pending_at, pending_len, pending) < 0) {
        goto error;
    }
    PyObject *unknown = g.unknown;
    PyObject *half = NULL;
    if (unknown != NULL) {
        for (Py_ssize_t k = 0; k < g.half_n; k += 2) {
            if (add_token(&half, view, g.half_at[k], g.half_at[k] + g.half_at[k + 1]) < 0) {
                Py_XDECREF(half);
                goto error;
            }
        }
    }
    if (g.half_at != g.half_stack) {
        PyMem_Free(g.half_at);
    }
    PyObject *result = PyTuple_New(3);
    if (result == NULL) {
        Py_XDECREF(unknown);
        Py_XDECREF(half);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, unknown != NULL ? unknown : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(result, 1, half != NULL ? half : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(result, 2, PyLong_FromLong(spaced));
    return result;

#undef CH
other_view:
    if (g.half_at != g.half_stack) {
        PyMem_Free(g.half_at);
    }
    Py_XDECREF(g.unknown);
    Py_RETURN_NONE;

error:
    if (g.half_at != g.half_stack) {
        PyMem_Free(g.half_at);
    }
    Py_XDECREF(g.unknown);
    return NULL;
}

static PyObject *
Table_scan(TableObject *self, PyObject *view)
{
    if (!PyUnicode_Check(view)) {
        PyErr_SetString(PyExc_TypeError, "scan() needs a str");
        return NULL;
    }
    return PyUnicode_IS_ASCII(view) ? scan_view(self, view, 1) : scan_view(self, view, 0);
}

static PyObject *
Table_len(TableObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(self->all.count);
}

static PyObject *
Table_nbytes(TableObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t((self->all.mask + self->hot.mask + self->shapes.mask + 3) * sizeof(uint64_t) +
                             self->all.pool_cap + self->hot.pool_cap + self->shapes.pool_cap);
}

static PyObject *
Table_may_play(TableObject *self, PyObject *tok)
{
    if (!PyUnicode_Check(tok) || !PyUnicode_IS_ASCII(tok) || PyUnicode_GET_LENGTH(tok) == 0) {
        PyErr_SetString(PyExc_ValueError, "may_play() needs a non-empty ASCII str");
        return NULL;
    }
    return PyBool_FromLong(may_play(self, PyUnicode_1BYTE_DATA(tok), PyUnicode_GET_LENGTH(tok)));
}

static PyObject *
Table_filtering(TableObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->filtering);
}

static PyMethodDef Table_methods[] = {
    {"scan", (PyCFunction)Table_scan, METH_O, Table_scan_doc},
    {"may_play", (PyCFunction)Table_may_play, METH_O,
     "may_play(token, /)\n--\n\nFalse only for a token outside the vocabulary that can take no part (see _scan.c)."},
    {"filtering", (PyCFunction)Table_filtering, METH_NOARGS,
     "filtering()\n--\n\nWhether scan leaves out the unknown tokens that can take no part."},
    {"size", (PyCFunction)Table_len, METH_NOARGS, "size()\n--\n\nThe number of words held."},
    {"nbytes", (PyCFunction)Table_nbytes, METH_NOARGS, "nbytes()\n--\n\nThe memory the table takes."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Table_doc,
"Table(clean, half, seed, hot=(), *, exact, grams, firsts, lasts, placeholder, mask)\n--\n\n"
"The vocabulary's ASCII words, each marked clean or half (two iterables of str, disjoint), in a table\n"
"keyed with `seed` (a 64-bit int); those of `hot` (the most frequent) also in a small table asked first.\n"
"With all of the keyword arguments (the spellings may_play asks about: see _scan.c), scan leaves out the\n"
"unknown tokens that can take no part; without them it leaves out none.");

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

PyDoc_STRVAR(repeats_doc,
"repeats(s, /)\n--\n\n"
"Whether some character of `s` stands right after the same character: any(map(operator.eq, s, s[1:])),\n"
"without a Python call per character (normalize.has_repeat).");

static PyObject *
module_repeats(PyObject *Py_UNUSED(module), PyObject *s)
{
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "repeats() needs a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    if (kind == PyUnicode_1BYTE_KIND) {
        const uint8_t *p = data;
        for (Py_ssize_t i = 1; i < n; i++) {
            if (p[i] == p[i - 1]) {
                Py_RETURN_TRUE;
            }
        }
        Py_RETURN_FALSE;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        if (PyUnicode_READ(kind, data, i) == PyUnicode_READ(kind, data, i - 1)) {
            Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

static PyMethodDef module_methods[] = {
    {"repeats", (PyCFunction)module_repeats, METH_O, repeats_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef scan_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "service.wordlist._scan",
    .m_doc = "The word list's prefilter in C: see service/wordlist/scan.py.",
    .m_size = -1,
    .m_methods = module_methods,
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
