/* wasix compat: there is no sgtty interface; programs must use <termios.h>. */
#error "sgtty.h is not available on WASIX: use <termios.h> (tcgetattr/tcsetattr)"
