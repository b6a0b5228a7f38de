/* keeps the support library non-empty before helpers add files */
typedef int fwt_test_support_empty;
