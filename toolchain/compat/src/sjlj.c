/* setjmp/longjmp through WebAssembly exception handling (exnref), for programs compiled with
 * the toolchain's SJLJ=exnref setting: instead of asyncify unwinding and rewinding the whole
 * stack at every setjmp (wasix-libc's stack_checkpoint), LLVM's -wasm-enable-sjlj lowers
 * setjmp to a record in the jmp_buf and longjmp to a `throw`, which the function that called
 * setjmp catches. These are the helpers LLVM's lowering calls, and the tag it throws.
 *
 * Compiled to nothing without -fwasm-exceptions (the zig provider's layer builds every file).
 */
#ifdef __wasm_exception_handling__

/* What __wasm_longjmp hands to the catching function; LLVM's lowering reads `env`, then
 * `val`, from the pointer the exception carries. */
struct wasix_longjmp_args {
    void *env;
    int val;
};

/* The jmp_buf as these helpers use it (setjmp.h's exception-handling jmp_buf is larger). */
struct wasix_jmp_buf {
    void *invocation;              /* which call of the function that called setjmp */
    unsigned int label;            /* which of its setjmp calls */
    struct wasix_longjmp_args args; /* kept here: the buffer outlives the throw */
};

_Static_assert(sizeof(struct wasix_jmp_buf) <= 6 * sizeof(int), "jmp_buf too small");

/* The exception tag LLVM's lowering catches: one i32 (the address of the arguments). */
__asm__(".globl __c_longjmp\n.tagtype __c_longjmp i32\n__c_longjmp:\n");

void __wasm_setjmp(void *env, unsigned int label, void *invocation) {
    struct wasix_jmp_buf *jb = env;
    if (label == 0 || invocation == 0)
        __builtin_trap(); /* LLVM never passes these: a miscompiled caller */
    jb->invocation = invocation;
    jb->label = label;
}

unsigned int __wasm_setjmp_test(void *env, void *invocation) {
    struct wasix_jmp_buf *jb = env;
    /* 0 tells the catching function that this jump is not for it: it rethrows. */
    return jb->invocation == invocation ? jb->label : 0;
}

_Noreturn void __wasm_longjmp(void *env, int val) {
    struct wasix_jmp_buf *jb = env;
    jb->args.env = env;
    jb->args.val = val == 0 ? 1 : val; /* C: setjmp never returns 0 from a longjmp */
    __builtin_wasm_throw(1, &jb->args); /* tag 1 is __c_longjmp */
}

#endif
