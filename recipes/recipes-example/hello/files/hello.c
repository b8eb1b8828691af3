#include <stdio.h>

int main(void)
{
    puts("Hello from layerbuild");
    return 0;
}
