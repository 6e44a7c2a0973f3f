/* kiln_hygiene.c — checks generated C with libclang (clang-c/Index.h), so
 * that kiln's output is safe to drop into any project:
 *   - every symbol with external linkage starts with the model's prefix (or
 *     kiln_ for the shipped runtime);
 *   - no writable globals: no non-const file-scope or static-local variable
 *     (all state lives in the caller's workspace, so two instances of one
 *     model can run side by side in two threads);
 *   - no calls to allocation, printing or process-ending functions;
 *   - no diagnostics under the warning flags given after "--".
 * usage: kiln_hygiene PREFIX FILE.c|FILE.h... [-- CLANG-ARGS...]
 * Headers are checked for the first three; their diagnostics count where a
 * .c file includes them. Prints one line per problem ("file:line:col:
 * problem") and exits 1 if any. */
#include <clang-c/Index.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const forbidden_calls[] = {
    "malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign",
    "printf", "fprintf", "vprintf", "vfprintf", "puts", "fputs", "putchar", "perror",
    "exit", "_Exit", "quick_exit", "abort", NULL,
};

typedef struct Check {
    const char *prefix;
    int problems;
} Check;

static void report(Check *c, CXCursor cur, const char *fmt, const char *name)
{
    CXFile file;
    unsigned line, col;
    clang_getSpellingLocation(clang_getCursorLocation(cur), &file, &line, &col, NULL);
    CXString fname = clang_getFileName(file);
    printf("%s:%u:%u: ", clang_getCString(fname), line, col);
    printf(fmt, name);
    printf("\n");
    clang_disposeString(fname);
    c->problems++;
}

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* The variable can't be written: it is const, or an array of consts. */
static bool is_const(CXType t)
{
    while (t.kind == CXType_ConstantArray || t.kind == CXType_IncompleteArray)
        t = clang_getArrayElementType(t);
    return clang_isConstQualifiedType(t);
}

static bool in_function(CXCursor cur)
{
    enum CXCursorKind k = clang_getCursorKind(clang_getCursorSemanticParent(cur));
    return k == CXCursor_FunctionDecl;
}

static void check_var(Check *c, CXCursor cur, const char *name)
{
    bool local = in_function(cur);
    enum CX_StorageClass sc = clang_Cursor_getStorageClass(cur);
    if (local && sc != CX_SC_Static)
        return; /* an automatic variable: on the stack, per call */
    if (clang_getCursorKind(clang_getCursorSemanticParent(cur)) == CXCursor_StructDecl)
        return;
    if (!is_const(clang_getCursorType(cur)))
        report(c, cur, local ? "writable static local variable '%s'"
                             : "writable global variable '%s'", name);
}

static void check_linkage(Check *c, CXCursor cur, const char *name)
{
    if (clang_getCursorLinkage(cur) != CXLinkage_External)
        return;
    if (!starts_with(name, c->prefix) && !starts_with(name, "kiln_"))
        report(c, cur, "external symbol '%s' lacks the model's prefix (or kiln_)", name);
}

static void check_call(Check *c, CXCursor cur, const char *name)
{
    for (int i = 0; forbidden_calls[i]; i++)
        if (strcmp(name, forbidden_calls[i]) == 0)
            report(c, cur, "calls %s", name);
}

static enum CXChildVisitResult visit(CXCursor cur, CXCursor parent, CXClientData data)
{
    (void)parent;
    Check *c = data;
    CXSourceLocation loc = clang_getCursorLocation(cur);
    if (clang_Location_isInSystemHeader(loc))
        return CXChildVisit_Continue;
    CXString s = clang_getCursorSpelling(cur);
    const char *name = clang_getCString(s);
    switch (clang_getCursorKind(cur)) {
    case CXCursor_VarDecl:
        check_var(c, cur, name);
        if (!in_function(cur))
            check_linkage(c, cur, name);
        break;
    case CXCursor_FunctionDecl:
        check_linkage(c, cur, name);
        break;
    case CXCursor_CallExpr:
        check_call(c, cur, name);
        break;
    default:
        break;
    }
    clang_disposeString(s);
    return CXChildVisit_Recurse;
}

static void check_diagnostics(Check *c, CXTranslationUnit tu)
{
    unsigned n = clang_getNumDiagnostics(tu);
    for (unsigned i = 0; i < n; i++) {
        CXDiagnostic dg = clang_getDiagnostic(tu, i);
        if (clang_getDiagnosticSeverity(dg) >= CXDiagnostic_Warning) {
            CXString text = clang_formatDiagnostic(
                dg, CXDiagnostic_DisplaySourceLocation | CXDiagnostic_DisplayColumn |
                        CXDiagnostic_DisplayOption);
            printf("%s\n", clang_getCString(text));
            clang_disposeString(text);
            c->problems++;
        }
        clang_disposeDiagnostic(dg);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: kiln_hygiene PREFIX FILE.c|FILE.h... [-- CLANG-ARGS...]\n");
        return 2;
    }
    Check c = {.prefix = argv[1]};
    int n_files = 0;
    const char *const *cargs = NULL;
    int n_cargs = 0;
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            cargs = (const char *const *)argv + i + 1;
            n_cargs = argc - i - 1;
            break;
        } else {
            n_files++;
        }
    const char *args[256];
    int na = 0;
    args[na++] = "-xc"; /* headers too are checked as C */
    for (int i = 0; i < n_cargs && na < 255; i++)
        args[na++] = cargs[i];
    CXIndex index = clang_createIndex(0, 0);
    int failed_files = 0;
    for (int f = 0; f < n_files; f++) {
        const char *file = argv[2 + f];
        size_t len = strlen(file);
        bool header = len > 2 && strcmp(file + len - 2, ".h") == 0;
        CXTranslationUnit tu;
        enum CXErrorCode err = clang_parseTranslationUnit2(index, file, args, na, NULL, 0,
                                                           CXTranslationUnit_None, &tu);
        if (err != CXError_Success) {
            printf("%s: libclang could not parse it (error %d)\n", file, (int)err);
            failed_files++;
            continue;
        }
        int before = c.problems;
        /* A header's diagnostics show where a .c file includes it; read on
         * its own it lacks what the .c defines first (_POSIX_C_SOURCE) and
         * its static helpers are unused. */
        if (!header)
            check_diagnostics(&c, tu);
        clang_visitChildren(clang_getTranslationUnitCursor(tu), visit, &c);
        if (c.problems == before)
            printf("ok: %s\n", file);
        clang_disposeTranslationUnit(tu);
    }
    clang_disposeIndex(index);
    return c.problems || failed_files ? 1 : 0;
}
